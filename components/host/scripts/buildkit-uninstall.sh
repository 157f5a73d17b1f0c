# Removes the BuildKit binaries this project installed (listed in its manifest), and the manifest; and
# BuildKit's state directory (its build cache) with the ancestors the install created, when the install
# created it (one that was there before is kept). Runs after the units are stopped. Parameters: ROOT BUILDKIT_ROOT
manifest="$STATE_DIR/buildkit.files"
if [ -f "$manifest" ]; then
  while IFS= read -r f; do rm -f -- "$ROOT$f"; done <"$manifest"
fi
rm -f -- "$manifest" "$STATE_DIR/buildkit.installed"
if [ -f "$STATE_DIR/buildkit.created-dirs" ]; then
  if [ -n "$BUILDKIT_ROOT" ] && [ "$BUILDKIT_ROOT" != / ] && grep -qxF -- "$ROOT$BUILDKIT_ROOT" "$STATE_DIR/buildkit.created-dirs"; then
    rm -rf -- "$ROOT$BUILDKIT_ROOT"
  fi
  remove_recorded_dirs buildkit.created-dirs
elif [ -d "$ROOT$BUILDKIT_ROOT" ]; then
  echo "k3s-buildkit: keeping $BUILDKIT_ROOT: it was there before BuildKit was installed" >&2
fi
remove_state_dir
