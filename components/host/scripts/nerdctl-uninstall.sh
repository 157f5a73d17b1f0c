# Removes nerdctl. Parameters: ROOT
rm -f -- "$ROOT/usr/local/bin/nerdctl" "$STATE_DIR/nerdctl.installed"
remove_state_dir
