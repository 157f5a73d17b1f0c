# Removes a host-built image's names from k3s's containerd (pulumi destroy of a HostImageBuild).
# Images pulled or built by anything else are not touched; a name already gone is fine.
# Parameters: CTR_NAMESPACE, IMAGE_NAMES (newline-separated, fully qualified), CONTAINERD_ADDRESS.
if ! command -v ctr >/dev/null 2>&1; then
  echo "k3s-buildkit: ctr not found; left the images ${IMAGE_NAMES//$'\n'/ } in place" >&2
  exit 0
fi
while IFS= read -r name; do
  [ -n "$name" ] || continue
  ctr --address "$CONTAINERD_ADDRESS" -n "$CTR_NAMESPACE" images rm "$name" >/dev/null 2>&1 || true
done <<<"$IMAGE_NAMES"
