# A host removed from stack config, before its k3s is uninstalled (asked on the first server): drain its
# node (unless K3S_DRAIN is false), then delete the Node object, so the cluster keeps no NotReady node
# (for a server with embedded etcd, k3s then removes its etcd member).
# Parameters: K3S_NODE K3S_DRAIN (true | false) K3S_DRAIN_TIMEOUT (seconds)
if ! k3s kubectl get --raw /readyz >/dev/null 2>&1; then
  echo "k3s-buildkit: cannot remove node $K3S_NODE: the API on $(hostname) does not answer; nothing was changed. Bring the first server back, or remove the node by hand (k3s kubectl delete node $K3S_NODE) and drop it from the stack with pulumi state delete." >&2
  exit 1
fi
if ! k3s kubectl get node "$K3S_NODE" >/dev/null 2>&1; then
  echo "node $K3S_NODE is not registered: nothing to remove"
  rm -f -- "$STATE_DIR/drained-$K3S_NODE" "$STATE_DIR/restarted-$K3S_NODE"
  remove_state_dir
  exit 0
fi
if [ "$K3S_DRAIN" = true ]; then drain_node "$K3S_NODE" "$K3S_DRAIN_TIMEOUT"; fi
k3s kubectl delete node "$K3S_NODE"
rm -f -- "$STATE_DIR/drained-$K3S_NODE" "$STATE_DIR/restarted-$K3S_NODE"
remove_state_dir
