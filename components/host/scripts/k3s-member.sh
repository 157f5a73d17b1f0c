# While the host is in stack config this step only says so; its delete (k3s-remove.sh) drains the node and
# deletes it before the host's k3s is uninstalled. Parameters: K3S_NODE
echo "node $K3S_NODE belongs to this stack: removing it from hosts drains it and deletes its node before the uninstall"
