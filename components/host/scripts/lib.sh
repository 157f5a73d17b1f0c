# Shared helpers, prepended to every install/uninstall script. All paths are under "$ROOT" (empty on a
# real host; a scratch directory in tests).
ROOT=${ROOT:-}
STATE_DIR="$ROOT/var/lib/k3s-buildkit"
# `k3s kubectl` is kubectl, which caches API discovery under $HOME/.kube/cache unless told otherwise: keep
# that cache off the host's disk (destroy leaves nothing behind), in a directory that goes with the boot.
export KUBECACHEDIR="${KUBECACHEDIR:-/run/k3s-buildkit/kubectl-cache}"

# download URL DEST: fetch to DEST (curl, else wget), failing on HTTP errors.
download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 --retry-delay 1 --connect-timeout 20 -o "$2" "$1"
  else
    wget -q -O "$2" "$1"
  fi || { echo "k3s-buildkit: download failed: $1" >&2; return 1; }
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# verify FILE EXPECTED WHAT: stop unless FILE's sha256 is EXPECTED.
verify() {
  local got
  got=$(sha256_of "$1")
  if [ "$got" != "$2" ]; then
    echo "k3s-buildkit: checksum mismatch for $3: expected $2, got $got; nothing was installed" >&2
    return 1
  fi
}

# install_file SRC DEST MODE: atomic (temp file in DEST's directory, then rename); no-op when equal.
install_file() {
  local dir tmp
  if [ -f "$2" ] && cmp -s "$1" "$2"; then return 0; fi
  dir=$(dirname -- "$2")
  mkdir -p -- "$dir"
  tmp=$(mktemp -- "$dir/.k3s-buildkit.XXXXXXXX")
  cp -- "$1" "$tmp"
  chmod -- "$3" "$tmp"
  mv -f -- "$tmp" "$2"
}

# write_state NAME CONTENT: atomic write of a state/stamp file.
write_state() {
  local tmp
  mkdir -p -- "$STATE_DIR"
  tmp=$(mktemp -- "$STATE_DIR/.k3s-buildkit.XXXXXXXX")
  printf '%s\n' "$2" >"$tmp"
  mv -f -- "$tmp" "$STATE_DIR/$1"
}

read_state() { cat -- "$STATE_DIR/$1" 2>/dev/null || true; }

WORK=$(mktemp -d)
trap 'rm -rf -- "$WORK"' EXIT

# make_dir_recorded NAME DIR: create DIR (under $ROOT) and, the first time, record in state NAME which
# of DIR and its ancestors this created, outermost first, so remove_recorded_dirs can undo exactly that.
make_dir_recorded() {
  local created="" d="$ROOT$2"
  if [ ! -f "$STATE_DIR/$1" ]; then
    while [ ! -d "$d" ]; do
      created="$d
$created"
      d=$(dirname -- "$d")
    done
    write_state "$1" "$created"
  fi
  mkdir -p -- "$ROOT$2"
}

# remove_recorded_dirs NAME: remove the directories state NAME records, innermost first, where empty.
remove_recorded_dirs() {
  [ -f "$STATE_DIR/$1" ] || return 0
  tac "$STATE_DIR/$1" | while IFS= read -r d; do
    if [ -n "$d" ] && [ -d "$d" ]; then rmdir --ignore-fail-on-non-empty -- "$d"; fi
  done
  rm -f -- "$STATE_DIR/$1"
}

# remove_state_dir: drop our state directory once nothing is left in it.
remove_state_dir() {
  if [ -d "$STATE_DIR" ]; then rmdir --ignore-fail-on-non-empty -- "$STATE_DIR"; fi
}

# drain_node NODE TIMEOUT: cordon NODE and evict its pods (PodDisruptionBudgets respected, DaemonSet pods
# left, emptyDir data deleted), at most TIMEOUT seconds; asked on a server. A node this cordons is
# recorded (drained-NODE), so the ready step uncordons it later; one cordoned by hand stays cordoned.
drain_node() {
  local out
  if [ "$(k3s kubectl get node "$1" -o 'jsonpath={.spec.unschedulable}')" != true ]; then
    write_state "drained-$1" "$(date -u +%FT%TZ)"
  fi
  if ! out=$(k3s kubectl drain "$1" --ignore-daemonsets --delete-emptydir-data --timeout="${2}s" 2>&1); then
    printf '%s\n' "$out" | tail -n 20 >&2
    echo "k3s-buildkit: draining node $1 did not finish within $2 s (k3s.upgrade.drainTimeoutSeconds); the lines above name the pods that blocked it. The node stays cordoned (safe) and k3s on it was not touched. Fix what blocks the eviction (often a PodDisruptionBudget with no room to spare) and run pulumi up again; or give the node back with: k3s kubectl uncordon $1" >&2
    return 1
  fi
  printf '%s\n' "$out"
}
