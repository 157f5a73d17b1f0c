# Whether a host-built image is still where pods find it: its first name and its newest digest reference
# in the CRI namespace (k8s.io). Prints present=true, present=false, or present=unknown when containerd
# cannot be asked (then the recorded state is kept).
# Parameters: IMAGE_NAME (fully qualified, e.g. docker.io/library/app:dev), REPOSITORY (its repository),
# STATE_FILE (the build's digests, newest last), CONTAINERD_ADDRESS.
if ! command -v ctr >/dev/null 2>&1; then
  echo present=unknown
  exit 0
fi
if ! names=$(ctr --address "$CONTAINERD_ADDRESS" -n k8s.io images ls -q 2>/dev/null); then
  echo present=unknown
  exit 0
fi
digest=$(tail -n 1 "$STATE_FILE" 2>/dev/null || true)
if printf '%s\n' "$names" | grep -qxF -- "$IMAGE_NAME" &&
  { [ -z "$digest" ] || printf '%s\n' "$names" | grep -qxF -- "$REPOSITORY@$digest"; }; then
  echo present=true
else
  echo present=false
fi
