# Host image build (HostImageBuild, seed 000): unpacks the context the provider sends after this body
# (a base64 tar on this script's stdin, read by receive_context), runs buildctl against the host's
# BuildKit, whose worker is k3s's containerd, and prints the build's metadata (it holds the digest).
# Parameters: BUILD_DIR (work directory, removed afterwards), BUILDCTL_ARGC and BUILDCTL_ARG_0…
# (buildctl's argv, one quoted variable per argument: no separator a value could contain),
# DOCKERFILE_B64 (an inline Dockerfile, base64; may be empty), BUILD_TRIGGER (informational).
trap 'rm -rf "$BUILD_DIR"; rmdir "${BUILD_DIR%/*}" 2>/dev/null || true' EXIT

# The argv and the Dockerfile stay shell variables, out of every child's environment: Linux refuses to
# start a program whose single environment string passes 128 KiB (a large inline Dockerfile would).
export -n DOCKERFILE_B64 BUILDCTL_ARGC
for ((i = 0; i < BUILDCTL_ARGC; i++)); do export -n "BUILDCTL_ARG_$i"; done

# receive_context: reads the base64 tar on stdin into $BUILD_DIR/context.
receive_context() {
  rm -rf "$BUILD_DIR"
  mkdir -p "$BUILD_DIR/context" "$BUILD_DIR/dockerfile"
  chmod 700 "$BUILD_DIR"
  base64 -d | tar -x -C "$BUILD_DIR/context" --no-same-owner
  if [ -n "$DOCKERFILE_B64" ]; then
    printf '%s' "$DOCKERFILE_B64" | base64 -d >"$BUILD_DIR/dockerfile/Dockerfile"
  fi
}

# run_build: buildctl with the argv given (progress on stderr), then the metadata on stdout.
run_build() {
  local -a args=()
  local i name
  for ((i = 0; i < BUILDCTL_ARGC; i++)); do
    name="BUILDCTL_ARG_$i"
    args+=("${!name}")
  done
  if ! command -v buildctl >/dev/null 2>&1; then
    echo "k3s-buildkit: buildctl is not installed on $(hostname); BuildKit must be installed first" >&2
    return 1
  fi
  buildctl "${args[@]}" >&2
  echo "k3s-buildkit-metadata:"
  cat "$BUILD_DIR/metadata.json"
}
