# Prints the k3s admin kubeconfig (secret: this step's output is kept secret and not logged).
cat /etc/rancher/k3s/k3s.yaml
