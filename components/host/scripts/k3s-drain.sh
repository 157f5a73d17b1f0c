# Before k3s restarts on K3S_NODE (asked on a server): drain it, unless draining is off, the node is not
# registered yet (a fresh install), or no restart is pending: K3S_RESTART_STAMP (a hash of the restart
# triggers) is what the ready step last recorded after this node came back, so a re-run for a changed
# parameter of this step alone drains nothing. The ready step uncordons the node once it is back. An
# empty K3S_RESTART_STAMP is a restart the triggers do not know of (a certificate rotation): it drains.
# Parameters: K3S_NODE K3S_DRAIN (true | false) K3S_DRAIN_TIMEOUT (seconds) K3S_RESTART_STAMP
if ! k3s kubectl get node "$K3S_NODE" >/dev/null 2>&1; then
  echo "node $K3S_NODE is not registered yet: nothing to drain"
  exit 0
fi
if [ -n "$K3S_RESTART_STAMP" ] && [ "$(read_state "restarted-$K3S_NODE")" = "$K3S_RESTART_STAMP" ]; then
  echo "node $K3S_NODE already runs this configuration: no restart pending, nothing to drain"
  exit 0
fi
if [ "$K3S_DRAIN" != true ]; then
  echo "node $K3S_NODE restarts without a drain (k3s.upgrade.drain is false, or it is the only node)"
  exit 0
fi
drain_node "$K3S_NODE" "$K3S_DRAIN_TIMEOUT"
echo "node $K3S_NODE drained"
