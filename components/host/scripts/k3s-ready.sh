# Waits until the node is Ready at the target version (asked on a server; the kubelet version, as the
# Ready condition alone can be stale from before the restart) and, with K3S_CHECK_READYZ, until the API's
# /readyz (etcd included) answers ok; then uncordons the node if the drain step cordoned it, and records
# K3S_RESTART_STAMP (see k3s-drain.sh), unless it is empty (a restart the triggers do not know of). An
# empty K3S_VERSION is any version (a restart that changes none: a certificate rotation).
# Parameters: K3S_NODE K3S_VERSION K3S_CHECK_READYZ (true | false) K3S_READY_TIMEOUT (seconds) K3S_RESTART_STAMP
deadline=$(($(date +%s) + K3S_READY_TIMEOUT))
status="" version="" seen="not registered"
while :; do
  if line=$(k3s kubectl get node "$K3S_NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.nodeInfo.kubeletVersion}' 2>/dev/null); then
    status=${line%% *}
    version=${line#* }
    seen="Ready=$status at $version"
    if [ "$status" = True ] && { [ -z "$K3S_VERSION" ] || [ "$version" = "$K3S_VERSION" ]; }; then
      [ "$K3S_CHECK_READYZ" = true ] || break
      [ "$(k3s kubectl get --raw /readyz 2>/dev/null || true)" = ok ] && break
      seen="$seen, but the API's /readyz is not ok"
    fi
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    if [ "$status" = True ] && [ "$version" != "$K3S_VERSION" ]; then
      echo "k3s-buildkit: node $K3S_NODE is Ready at $version, not at the target $K3S_VERSION, after ${K3S_READY_TIMEOUT}s: it runs the old binary (see: journalctl -u k3s -u k3s-agent on it)" >&2
    else
      echo "k3s-buildkit: node $K3S_NODE not Ready at $K3S_VERSION after ${K3S_READY_TIMEOUT}s (last seen: $seen); see: journalctl -u k3s -u k3s-agent on it" >&2
    fi
    exit 1
  fi
  sleep 2
done
echo "node $K3S_NODE is Ready at $version"
if [ -f "$STATE_DIR/drained-$K3S_NODE" ]; then
  k3s kubectl uncordon "$K3S_NODE"
  rm -f -- "$STATE_DIR/drained-$K3S_NODE"
fi
[ -z "$K3S_RESTART_STAMP" ] || write_state "restarted-$K3S_NODE" "$K3S_RESTART_STAMP"
