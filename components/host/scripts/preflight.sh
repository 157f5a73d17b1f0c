# Preflight: runs first on every host. Fails early, with a message that says what to fix, when the
# host cannot take the install. Prints `arch=<amd64|arm64>` for the download steps, and what BuildKit's
# defaults are derived from: `cpus=<n>` and `disk_kib=<size of the filesystem BUILDKIT_ROOT is (or will
# be) on, in KiB>`. Read-only: it changes nothing on the host.
# Fed on stdin to `bash -s` (as root, or through sudo -n) after `set -euo pipefail`.
# Parameters: BUILDKIT_ROOT; EXTRA_TOOLS (space-separated commands this host's work needs besides the
# usual, e.g. git for a host build with a git context; may be empty).

if [ "$(id -u)" -ne 0 ]; then
  echo "k3s-buildkit preflight: scripts must run as root (got uid $(id -u)); connect as root or set sudo: true" >&2
  exit 1
fi
if [ ! -d /run/systemd/system ]; then
  echo "k3s-buildkit preflight: systemd is not running as init on $(hostname); k3s and BuildKit need a systemd host" >&2
  exit 1
fi
missing=""
# shellcheck disable=SC2086 # EXTRA_TOOLS is a list of command names
for tool in tar sha256sum mktemp base64 systemctl df ${EXTRA_TOOLS:-}; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if ! command -v curl >/dev/null 2>&1 && ! command -v wget >/dev/null 2>&1; then
  missing="$missing curl-or-wget"
fi
if [ -n "$missing" ]; then
  echo "k3s-buildkit preflight: missing tools on $(hostname):$missing (install them, e.g. apt-get install -y curl tar coreutils${EXTRA_TOOLS:+ ${EXTRA_TOOLS:-}})" >&2
  exit 1
fi
machine=$(uname -m)
case "$machine" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *)
    echo "k3s-buildkit preflight: unsupported architecture $machine on $(hostname); supported: x86_64 (amd64), aarch64 (arm64)" >&2
    exit 1
    ;;
esac
echo "arch=$arch"
# The filesystem BuildKit's state will live on: the root directory's, or its nearest existing ancestor's.
dir=${BUILDKIT_ROOT:-/}
while [ ! -d "$dir" ]; do dir=$(dirname -- "$dir"); done
echo "disk_kib=$(df -Pk -- "$dir" | awk 'NR == 2 { print $2 }')"
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 0)"
