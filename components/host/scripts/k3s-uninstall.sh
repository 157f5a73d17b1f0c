# Uninstalls k3s with its own uninstall script (which stops it and removes its data dir, honouring
# K3S_DATA_DIR), then what our install step added. Parameters: ROOT K3S_ROLE K3S_DATA_DIR
service=k3s
[ "$K3S_ROLE" = agent ] && service=k3s-agent
# Our install step enabled the unit: undo that too (k3s's own uninstall does as well, on a real host).
systemctl ${ROOT:+--root="$ROOT"} disable --quiet "$service.service" 2>/dev/null || true
if [ -x "$ROOT/usr/local/bin/$service-uninstall.sh" ]; then
  K3S_DATA_DIR="$K3S_DATA_DIR" "$ROOT/usr/local/bin/$service-uninstall.sh" >&2
fi
rm -f -- "$ROOT/usr/local/bin/k3s" "$STATE_DIR/k3s.installed" "$STATE_DIR"/drained-* "$STATE_DIR"/restarted-*
rm -rf -- "$ROOT$K3S_DATA_DIR/agent/images"
# Directories our install created (the data dir's ancestors) and k3s's config dir, if now empty.
remove_recorded_dirs k3s.created-dirs
for d in "$ROOT/etc/rancher/k3s" "$ROOT/etc/rancher"; do
  if [ -d "$d" ]; then rmdir --ignore-fail-on-non-empty -- "$d"; fi
done
remove_state_dir
