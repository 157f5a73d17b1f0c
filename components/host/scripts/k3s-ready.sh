# Waits until the node is Ready, asked on a server. Parameters: K3S_NODE K3S_READY_TIMEOUT (seconds)
deadline=$(($(date +%s) + K3S_READY_TIMEOUT))
while :; do
  status=$(k3s kubectl get node "$K3S_NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  [ "$status" = True ] && { echo "node $K3S_NODE is Ready"; exit 0; }
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "k3s-buildkit: node $K3S_NODE not Ready after ${K3S_READY_TIMEOUT}s; see: journalctl -u k3s -u k3s-agent" >&2
    exit 1
  fi
  sleep 2
done
