# Host image build (HostImageBuild, seed 000): unpacks the context the provider sends after this body
# (a base64 tar on this script's stdin, read by receive_context), runs buildctl against the host's
# BuildKit, whose worker is k3s's containerd, makes the image runnable by the kubelet by digest, and
# prints the build's metadata (it holds the digest).
# Parameters: BUILD_DIR (private work directory, removed afterwards, also on failure), BUILDCTL_ARGC and
# BUILDCTL_ARG_0… (buildctl's argv, one quoted variable per argument: no separator a value could contain),
# DOCKERFILE_B64 (an inline Dockerfile, base64; may be empty), DOCKER_CONFIG_B64 (registry credentials as
# a docker config.json, base64; may be empty), BUILD_NAMESPACE (where BuildKit builds), IMAGE_NAMES and
# REPOSITORIES (newline-separated, fully qualified), KEEP (digest references kept per build), STATE_FILE
# (the digests this build made, newest last), CONTAINERD_ADDRESS, BUILD_TRIGGER (informational).
trap 'rm -rf "$BUILD_DIR"; rmdir "${BUILD_DIR%/*}" 2>/dev/null || true' EXIT

# The argv, the Dockerfile and the credentials stay shell variables, out of every child's environment:
# Linux refuses to start a program whose single environment string passes 128 KiB.
export -n DOCKERFILE_B64 DOCKER_CONFIG_B64 BUILDCTL_ARGC
for ((i = 0; i < BUILDCTL_ARGC; i++)); do export -n "BUILDCTL_ARG_$i"; done

# The namespace the kubelet's CRI looks in.
CRI_NAMESPACE=k8s.io
PINNED=io.cri-containerd.pinned=pinned

ctr_in() {
  local ns=$1
  shift
  ctr --address "$CONTAINERD_ADDRESS" -n "$ns" "$@"
}

# receive_context: reads the base64 tar on stdin into $BUILD_DIR/context. Files get the time of
# extraction (tar -m), never the archive's fixed mtime: BuildKit's incremental context sync keeps its
# previous copy of a file whose size and mtime did not change, so a same-size edit would build stale.
receive_context() {
  rm -rf "$BUILD_DIR"
  mkdir -p "$BUILD_DIR"
  chmod 700 "$BUILD_DIR"
  mkdir -p "$BUILD_DIR/context" "$BUILD_DIR/dockerfile"
  base64 -d | tar -x -m -C "$BUILD_DIR/context" --no-same-owner
  if [ -n "$DOCKERFILE_B64" ]; then
    printf '%s' "$DOCKERFILE_B64" | base64 -d >"$BUILD_DIR/dockerfile/Dockerfile"
  fi
  if [ -n "$DOCKER_CONFIG_B64" ]; then
    mkdir -m 700 "$BUILD_DIR/docker"
    (umask 077 && printf '%s' "$DOCKER_CONFIG_B64" | base64 -d >"$BUILD_DIR/docker/config.json")
    export DOCKER_CONFIG="$BUILD_DIR/docker"
  fi
}

# digest_refs DIGEST: `<repository>@<digest>` for every repository the build tags.
digest_refs() {
  local repo
  while IFS= read -r repo; do
    if [ -n "$repo" ]; then printf '%s@%s\n' "$repo" "$1"; fi
  done <<<"$REPOSITORIES"
}

# publish DIGEST: the image in the CRI namespace under its tags and under repo@digest (BuildKit names
# it by tag only; CRI resolves a digest reference only through an image of exactly that name), pinned
# against the kubelet's image GC. Keeps the last KEEP digests of this build, removes older ones.
publish() {
  local digest=$1 name ref old tmp
  if [ "$BUILD_NAMESPACE" != "$CRI_NAMESPACE" ]; then
    mapfile -t names <<<"$IMAGE_NAMES"
    ctr_in "$BUILD_NAMESPACE" images export --all-platforms "$BUILD_DIR/image.tar" "${names[@]}"
    ctr_in "$CRI_NAMESPACE" images import --all-platforms "$BUILD_DIR/image.tar" >&2 ||
      ctr_in "$CRI_NAMESPACE" images import --all-platforms --no-unpack "$BUILD_DIR/image.tar" >&2
    rm -f "$BUILD_DIR/image.tar"
  fi
  name=$(head -n 1 <<<"$IMAGE_NAMES")
  while IFS= read -r ref; do
    ctr_in "$CRI_NAMESPACE" images tag --force "$name" "$ref" >/dev/null
  done < <(digest_refs "$digest")
  while IFS= read -r name; do
    if [ -n "$name" ]; then ctr_in "$CRI_NAMESPACE" images label "$name" "$PINNED" >/dev/null; fi
  done < <(printf '%s\n' "$IMAGE_NAMES" && digest_refs "$digest")
  # The state file: this build's digests, newest last, at most KEEP.
  mkdir -p "${STATE_FILE%/*}"
  tmp=$(mktemp "$STATE_FILE.XXXXXX")
  { grep -vxF -- "$digest" "$STATE_FILE" 2>/dev/null || true; echo "$digest"; } >"$tmp"
  while [ "$(wc -l <"$tmp")" -gt "$KEEP" ]; do
    old=$(head -n 1 "$tmp")
    while IFS= read -r ref; do
      ctr_in "$CRI_NAMESPACE" images rm "$ref" >/dev/null 2>&1 || true
    done < <(digest_refs "$old")
    sed -i 1d "$tmp"
  done
  mv -f "$tmp" "$STATE_FILE"
}

# run_build: buildctl with the argv given (progress on stderr), then publish, then the metadata on stdout.
run_build() {
  local -a args=()
  local i name digest
  for ((i = 0; i < BUILDCTL_ARGC; i++)); do
    name="BUILDCTL_ARG_$i"
    args+=("${!name}")
  done
  if ! command -v buildctl >/dev/null 2>&1; then
    echo "k3s-buildkit: buildctl is not installed on $(hostname); BuildKit must be installed first" >&2
    return 1
  fi
  buildctl "${args[@]}" >&2
  digest=$(grep -o '"containerimage\.digest": *"sha256:[0-9a-f]\{64\}"' "$BUILD_DIR/metadata.json" | grep -o 'sha256:[0-9a-f]\{64\}' || true)
  if [ -z "$digest" ]; then
    echo "k3s-buildkit: the build's metadata has no containerimage.digest" >&2
    return 1
  fi
  publish "$digest"
  echo "k3s-buildkit-metadata:"
  cat "$BUILD_DIR/metadata.json"
}
