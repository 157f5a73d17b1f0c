# Installs BuildKit's release binaries into /usr/local/bin. BuildKit publishes no checksum file: the
# tarball is checked against BUILDKIT_SHA256 when given (from config, or recorded by the first host:
# trust on first use); its sha256 is printed either way. A mismatch stops before anything is installed.
# Idempotent: a recorded install of the same version and checksum with all files present is kept.
# Parameters: ROOT BUILDKIT_VERSION BUILDKIT_BASE_URL ARCH BUILDKIT_SHA256 BUILDKIT_ROOT
bin_dir="$ROOT/usr/local/bin"
manifest="$STATE_DIR/buildkit.files"

recorded=$(read_state buildkit.installed)
if [ -n "$recorded" ] && [ "${recorded% *}" = "$BUILDKIT_VERSION" ] && { [ -z "$BUILDKIT_SHA256" ] || [ "${recorded#* }" = "$BUILDKIT_SHA256" ]; }; then
  complete=true
  [ -f "$manifest" ] || complete=false
  [ "$complete" = false ] || while IFS= read -r f; do [ -x "$ROOT$f" ] || complete=false; done <"$manifest"
  if [ "$complete" = true ]; then
    echo "buildkit_sha256=${recorded#* }"
    exit 0
  fi
fi

tarball="buildkit-$BUILDKIT_VERSION.linux-$ARCH.tar.gz"
download "$BUILDKIT_BASE_URL/$BUILDKIT_VERSION/$tarball" "$WORK/$tarball"
got=$(sha256_of "$WORK/$tarball")
[ -z "$BUILDKIT_SHA256" ] || verify "$WORK/$tarball" "$BUILDKIT_SHA256" "$tarball"
mkdir -p "$WORK/x"
tar -xzf "$WORK/$tarball" -C "$WORK/x"
if [ ! -x "$WORK/x/bin/buildkitd" ] || [ ! -x "$WORK/x/bin/buildctl" ]; then
  echo "k3s-buildkit: $tarball has no bin/buildkitd and bin/buildctl" >&2
  exit 1
fi
# Remember whether this install creates BuildKit's state directory (and which of its ancestors), so
# uninstall removes it then, and only then: a directory that was there before is not ours.
make_dir_recorded buildkit.created-dirs "$BUILDKIT_ROOT"
: >"$WORK/files"
for f in "$WORK"/x/bin/*; do
  name=$(basename -- "$f")
  install_file "$f" "$bin_dir/$name" 0755
  echo "/usr/local/bin/$name" >>"$WORK/files"
done
mkdir -p -- "$STATE_DIR"
install_file "$WORK/files" "$manifest" 0644
write_state buildkit.installed "$BUILDKIT_VERSION $got"
echo "buildkit_sha256=$got"
