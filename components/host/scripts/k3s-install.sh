# Installs the k3s binary (verified against the release's sha256sum-<arch>.txt, or a pinned sha256),
# the air-gap images if given, then runs the k3s install script with the binary pre-placed and
# enable/start skipped (the SystemdService resource owns the unit's state). Idempotent: nothing is
# downloaded or rewritten when the installed binary and the recorded install match.
# Parameters: ROOT K3S_VERSION K3S_BINARY_BASE_URL K3S_BINARY_LAYOUT (github | china-mirror)
#             K3S_INSTALL_SCRIPT_URL K3S_ROLE K3S_SERVER_URL ARCH
#             K3S_DATA_DIR K3S_BINARY_SHA256 K3S_AIRGAP_IMAGES_URL K3S_AIRGAP_IMAGES_PATH
#             and, with a proxy, HTTP_PROXY HTTPS_PROXY NO_PROXY (their lower-case and CONTAINERD_* forms)
bin_dir="$ROOT/usr/local/bin"

# k3s cannot change roles in place: the installer would add the other unit beside the first, and its
# uninstall then refuses to remove k3s while another k3s*.service exists. Refuse before changing anything.
other=k3s-agent
[ "$K3S_ROLE" = agent ] && other=k3s
if [ -f "$ROOT/etc/systemd/system/$other.service" ]; then
  echo "k3s-buildkit: $(hostname) already runs k3s as $([ "$other" = k3s ] && echo a server || echo an agent) ($other.service), and its role in stack config (hosts[].role) is now $K3S_ROLE. k3s cannot change roles in place: remove the host from hosts and run pulumi up (that uninstalls it), then add it back with role: $K3S_ROLE. Nothing was changed." >&2
  exit 1
fi
suffix=""
[ "$ARCH" = arm64 ] && suffix="-arm64"
# The release directory: GitHub's layout names it by the version; the China mirror's writes "+" as "-".
release_dir=$K3S_VERSION
[ "$K3S_BINARY_LAYOUT" = china-mirror ] && release_dir=${K3S_VERSION//+/-}
release="$K3S_BINARY_BASE_URL/$release_dir"

sums=""
expected="$K3S_BINARY_SHA256"
if [ -z "$expected" ] || [ -n "$K3S_AIRGAP_IMAGES_URL" ]; then
  sums="$WORK/sha256sum.txt"
  download "$release/sha256sum-$ARCH.txt" "$sums"
fi
if [ -z "$expected" ]; then
  expected=$(awk -v f="k3s$suffix" '$2 == f { print $1 }' "$sums")
  [ -n "$expected" ] || { echo "k3s-buildkit: no checksum for k3s$suffix in $release/sha256sum-$ARCH.txt" >&2; exit 1; }
fi

if [ ! -x "$bin_dir/k3s" ] || [ "$(sha256_of "$bin_dir/k3s")" != "$expected" ]; then
  download "$release/k3s$suffix" "$WORK/k3s"
  verify "$WORK/k3s" "$expected" "k3s $K3S_VERSION ($ARCH)"
  install_file "$WORK/k3s" "$bin_dir/k3s" 0755
fi

# Remember which ancestors of the data dir this install creates, so uninstall can remove them again.
make_dir_recorded k3s.created-dirs "$K3S_DATA_DIR"

images_dir="$ROOT$K3S_DATA_DIR/agent/images"
if [ -n "$K3S_AIRGAP_IMAGES_URL" ]; then
  name=$(basename -- "$K3S_AIRGAP_IMAGES_URL")
  want=$(awk -v f="$name" '$2 == f { print $1 }' "$sums")
  if [ ! -f "$images_dir/$name" ] || { [ -n "$want" ] && [ "$(sha256_of "$images_dir/$name")" != "$want" ]; }; then
    download "$K3S_AIRGAP_IMAGES_URL" "$WORK/$name"
    [ -z "$want" ] || verify "$WORK/$name" "$want" "$name"
    install_file "$WORK/$name" "$images_dir/$name" 0644
  fi
elif [ -n "$K3S_AIRGAP_IMAGES_PATH" ]; then
  install_file "$K3S_AIRGAP_IMAGES_PATH" "$images_dir/$(basename -- "$K3S_AIRGAP_IMAGES_PATH")" 0644
fi

service=k3s
[ "$K3S_ROLE" = agent ] && service=k3s-agent
# With a proxy, the installer writes its variables into k3s's .env: they are forwarded to it, and a
# change re-runs it (the new .env's checksum then restarts k3s, one node at a time).
proxy_env=()
for v in HTTP_PROXY HTTPS_PROXY NO_PROXY CONTAINERD_HTTP_PROXY CONTAINERD_HTTPS_PROXY CONTAINERD_NO_PROXY; do
  if [ -n "${!v:-}" ]; then proxy_env+=("$v=${!v}"); fi
done
stamp="$K3S_VERSION $K3S_ROLE $K3S_SERVER_URL $K3S_DATA_DIR $expected"
if [ "${#proxy_env[@]}" -gt 0 ]; then stamp="$stamp ${proxy_env[*]}"; fi
if [ "$(read_state k3s.installed)" != "$stamp" ] || [ ! -f "$ROOT/etc/systemd/system/$service.service" ] || [ ! -x "$bin_dir/$service-uninstall.sh" ]; then
  download "$K3S_INSTALL_SCRIPT_URL" "$WORK/install.sh"
  # The installer copies every exported K3S_*, CONTAINERD_* and proxy variable into the unit's .env, and so
  # into k3s's environment (this script's own parameters included: mirror URLs, which may hold
  # credentials). It runs with a clean environment: its own settings, K3S_DATA_DIR, which k3s and the
  # uninstall script read, and the proxy if there is one. config.yaml carries everything else.
  env -i PATH="$PATH" HOME="${HOME:-/root}" \
    INSTALL_K3S_SKIP_DOWNLOAD=true INSTALL_K3S_SKIP_ENABLE=true INSTALL_K3S_SKIP_START=true \
    INSTALL_K3S_VERSION="$K3S_VERSION" INSTALL_K3S_EXEC="$K3S_ROLE" \
    INSTALL_K3S_BIN_DIR="$bin_dir" INSTALL_K3S_SYSTEMD_DIR="$ROOT/etc/systemd/system" \
    K3S_DATA_DIR="$K3S_DATA_DIR" "${proxy_env[@]}" \
    sh "$WORK/install.sh" >&2
  # Every installer run disables the unit and rewrites it: enable it again at once, in this same step,
  # so an interrupted up never leaves a k3s that does not come back after a reboot. (The service step
  # then starts or restarts it; the new unit's hash below is one of its restart triggers.)
  systemctl ${ROOT:+--root="$ROOT"} enable --quiet "$service.service"
  write_state k3s.installed "$stamp"
fi
echo "k3s_sha256=$expected"
echo "k3s_unit_sha256=$(cat "$ROOT/etc/systemd/system/$service.service" "$ROOT/etc/systemd/system/$service.service.env" 2>/dev/null | sha256sum | cut -d' ' -f1)"
