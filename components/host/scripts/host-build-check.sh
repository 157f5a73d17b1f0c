# Whether a host-built image is still in k3s's containerd: prints present=true, present=false, or
# present=unknown when containerd cannot be asked (then the recorded state is kept).
# Parameters: CTR_NAMESPACE, IMAGE_NAME (fully qualified, e.g. docker.io/library/app:dev),
# CONTAINERD_ADDRESS.
if ! command -v ctr >/dev/null 2>&1; then
  echo present=unknown
  exit 0
fi
if ! names=$(ctr --address "$CONTAINERD_ADDRESS" -n "$CTR_NAMESPACE" images ls -q 2>/dev/null); then
  echo present=unknown
  exit 0
fi
if printf '%s\n' "$names" | grep -qxF -- "$IMAGE_NAME"; then
  echo present=true
else
  echo present=false
fi
