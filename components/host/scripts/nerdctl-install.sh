# Installs nerdctl from the minimal archive, verified against the release's SHA256SUMS.
# Parameters: ROOT NERDCTL_VERSION NERDCTL_BASE_URL ARCH
bin_dir="$ROOT/usr/local/bin"
tarball="nerdctl-$NERDCTL_VERSION-linux-$ARCH.tar.gz"
release="$NERDCTL_BASE_URL/v$NERDCTL_VERSION"
recorded=$(read_state nerdctl.installed)
if [ "${recorded% *}" = "$NERDCTL_VERSION" ] && [ -x "$bin_dir/nerdctl" ]; then
  echo "nerdctl_sha256=${recorded#* }"
  exit 0
fi
download "$release/SHA256SUMS" "$WORK/SHA256SUMS"
expected=$(awk -v f="$tarball" '$2 == f || $2 == "*" f { print $1 }' "$WORK/SHA256SUMS")
[ -n "$expected" ] || { echo "k3s-buildkit: no checksum for $tarball in $release/SHA256SUMS" >&2; exit 1; }
download "$release/$tarball" "$WORK/$tarball"
verify "$WORK/$tarball" "$expected" "$tarball"
mkdir -p "$WORK/x"
tar -xzf "$WORK/$tarball" -C "$WORK/x" nerdctl
install_file "$WORK/x/nerdctl" "$bin_dir/nerdctl" 0755
write_state nerdctl.installed "$NERDCTL_VERSION $expected"
echo "nerdctl_sha256=$expected"
