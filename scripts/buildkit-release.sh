#!/usr/bin/env bash
# `bash scripts/buildkit-release.sh VERSION...`: BuildKit releases built from the module github.com/moby/buildkit,
# for machines that cannot download them: buildkitd and buildctl, version-stamped as release builds are
# (`buildkitd --version` answers `buildkitd github.com/moby/buildkit vX.Y.Z`; the revision is empty: the
# module proxy does not say which commit a tag is), packed in the release tarball layout
# (bin/buildkitd, bin/buildctl) as buildkit-<version>.linux-<arch>.tar.gz. Cached by version in
# $K3SBK_ENGINE_CACHE (default /var/cache/k3s-buildkit-engine): a second run takes a moment. Prints each
# tarball's path on stdout, one progress line per version on stderr. Beside each tarball, image/ holds the
# container image's entrypoint scripts from the module (hack/buildkitd-entrypoint, hack/with-cgroupfs-remount).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 VERSION..." >&2; exit 2; }
cache=${K3SBK_ENGINE_CACHE:-/var/cache/k3s-buildkit-engine}
export GOTOOLCHAIN=local CGO_ENABLED=0
command -v go >/dev/null || { echo "buildkit-release: no Go toolchain (Go >= 1.26 builds BuildKit)" >&2; exit 1; }
case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) echo "buildkit-release: no build for $(uname -m)" >&2; exit 1 ;; esac

for version in "$@"; do
  [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "buildkit-release: $version is not a release version (vX.Y.Z)" >&2; exit 2; }
  start=$(date +%s%N)
  out="$cache/buildkit-$version"
  tarball="$out/buildkit-$version.linux-$arch.tar.gz"
  if [ -f "$tarball" ]; then
    state=cached
  else
    json=$(go mod download -json "github.com/moby/buildkit@$version" 2>/dev/null || true)
    src=$(printf '%s' "$json" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    if [ -z "$src" ]; then
      echo "buildkit-release: buildkit $version: tried module github.com/moby/buildkit@$version: $(printf '%s' "$json" | sed -n 's/^\t"Error": "\(.*\)",*$/\1/p')" >&2
      exit 1
    fi
    work=$(mktemp -d)
    # BuildKit's go.mod has an exclude block (no `go install`) and ships vendor/modules.txt without the
    # vendored sources: build a writable copy as the main module, from the module cache.
    cp -r "$src" "$work/src"
    chmod -R u+w "$work/src"
    rm -rf "$work/src/vendor"
    mkdir -p "$work/pkg/bin"
    (cd "$work/src" && go build -mod=mod -trimpath -tags "osusergo netgo static_build seccomp" \
      -ldflags "-s -w -X github.com/moby/buildkit/version.Version=$version -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit" \
      -o "$work/pkg/bin/" ./cmd/buildkitd ./cmd/buildctl) >"$work/log" 2>&1 || {
      echo "buildkit-release: buildkit $version: build failed:" >&2
      tail -20 "$work/log" >&2
      rm -rf "$work"
      exit 1
    }
    mkdir -p "$out"
    tar -C "$work/pkg" -czf "$tarball.tmp" bin
    mv -f "$tarball.tmp" "$tarball"
    rm -rf "$work"
    state=built
  fi
  # The image's own entrypoint scripts (the privileged image runs hack/buildkitd-entrypoint, which may
  # move buildkitd into a cgroup namespace): the tests run the in-cluster daemon's command line through
  # them, as the image would. Not part of the release tarball.
  if [ ! -d "$out/image" ]; then
    src=$(go mod download -json "github.com/moby/buildkit@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    rm -rf "$out/image.tmp"
    mkdir -p "$out/image.tmp/usr/bin"
    for f in buildkitd-entrypoint with-cgroupfs-remount; do
      if [ -f "$src/hack/$f" ]; then install -m 755 "$src/hack/$f" "$out/image.tmp/usr/bin/$f"; fi
    done
    mv "$out/image.tmp" "$out/image"
  fi
  ms=$((($(date +%s%N) - start) / 1000000))
  printf 'buildkit-release: buildkit %-8s %s (%d.%d s): %s\n' "$version" "$state" $((ms / 1000)) $((ms % 1000 / 100)) \
    "$(tar -xzOf "$tarball" bin/buildkitd >"$out/.buildkitd" && chmod +x "$out/.buildkitd" && "$out/.buildkitd" --version)" >&2
  echo "$tarball"
done
