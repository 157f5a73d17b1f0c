# Waits until buildkitd answers on its socket with at least one worker. Parameters: BUILDKIT_ADDR BUILDKIT_READY_TIMEOUT
deadline=$(($(date +%s) + BUILDKIT_READY_TIMEOUT))
until buildctl --addr "$BUILDKIT_ADDR" debug workers >"$WORK/workers" 2>"$WORK/err" && [ "$(wc -l <"$WORK/workers")" -gt 1 ]; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "k3s-buildkit: buildkitd not ready at $BUILDKIT_ADDR after ${BUILDKIT_READY_TIMEOUT}s: $(cat "$WORK/err"); see: journalctl -u buildkit" >&2
    exit 1
  fi
  sleep 1
done
cat "$WORK/workers"
