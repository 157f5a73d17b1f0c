# Removes what a host build created in containerd (pulumi destroy of a HostImageBuild): its names in the
# build namespace and the CRI namespace, every digest reference it made, and the bare sha256:<id> names
# containerd's CRI added for those images when nothing else names them, so the content is freed.
# Images pulled or built by anything else are not touched; a name already gone is fine.
# Parameters: BUILD_NAMESPACE, IMAGE_NAMES and REPOSITORIES (newline-separated, fully qualified),
# STATE_FILE, CONTAINERD_ADDRESS.
if ! command -v ctr >/dev/null 2>&1; then
  echo "k3s-buildkit: ctr not found; left the images ${IMAGE_NAMES//$'\n'/ } in place" >&2
  exit 0
fi
ctr_in() {
  local ns=$1
  shift
  ctr --address "$CONTAINERD_ADDRESS" -n "$ns" "$@"
}
ours=$(printf '%s\n' "$IMAGE_NAMES")
if [ -f "$STATE_FILE" ]; then
  while IFS= read -r digest; do
    while IFS= read -r repo; do
      if [ -n "$repo" ]; then ours+=$'\n'"$repo@$digest"; fi
    done <<<"$REPOSITORIES"
  done <"$STATE_FILE"
fi
for ns in $(printf '%s\n%s\n' "$BUILD_NAMESPACE" k8s.io | sort -u); do
  listing=$(ctr_in "$ns" images ls 2>/dev/null | tail -n +2) || continue
  # The targets our names point at, before they go.
  targets=$(awk 'NR == FNR { mine[$0] = 1; next } ($1 in mine) { print $3 }' <(printf '%s\n' "$ours") <(printf '%s\n' "$listing") | sort -u)
  while IFS= read -r name; do
    if [ -n "$name" ]; then ctr_in "$ns" images rm "$name" >/dev/null 2>&1 || true; fi
  done <<<"$ours"
  # Bare sha256:<id> names (CRI's image IDs) on those targets, unless another name still uses the target.
  remaining=$(ctr_in "$ns" images ls 2>/dev/null | tail -n +2) || continue
  while IFS= read -r target; do
    [ -n "$target" ] || continue
    if ! awk -v t="$target" '$3 == t && $1 !~ /^sha256:/ { found = 1 } END { exit !found }' <<<"$remaining"; then
      awk -v t="$target" '$3 == t && $1 ~ /^sha256:/ { print $1 }' <<<"$remaining" | while IFS= read -r bare; do
        ctr_in "$ns" images rm "$bare" >/dev/null 2>&1 || true
      done
    fi
  done <<<"$targets"
done
rm -f -- "$STATE_FILE"
rmdir -- "${STATE_FILE%/*}" 2>/dev/null || true
exit 0
