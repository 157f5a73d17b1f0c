# Removes the BuildKit binaries this project installed (listed in its manifest), and the manifest.
# BuildKit's state directory (build cache) is user data and is kept. Parameters: ROOT
manifest="$STATE_DIR/buildkit.files"
if [ -f "$manifest" ]; then
  while IFS= read -r f; do rm -f -- "$ROOT$f"; done <"$manifest"
fi
rm -f -- "$manifest" "$STATE_DIR/buildkit.installed"
remove_state_dir
