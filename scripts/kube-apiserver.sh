#!/usr/bin/env bash
# `bash scripts/kube-apiserver.sh K3S_VERSION`: a real Kubernetes API server for the tests, built from Go
# modules (no release downloads here): kube-apiserver and kube-controller-manager (the controllers that
# turn a StatefulSet into pods and ready pods into Endpoints) and kubectl (the k3s fixture's `k3s kubectl`)
# from k8s.io/kubernetes at the Kubernetes release of
# the k3s version (its patch if the module proxy serves it, else the newest served patch of that minor,
# said on stderr), version-stamped so `/version` answers it; and etcd from go.etcd.io/etcd/server/v3 at
# the version that Kubernetes release requires. k8s.io/kubernetes requires its staging modules at v0.0.0
# and replaces them with ./staging/…; the wrapper module here replaces each with its published
# v0.<minor>.<patch>. Cached by version in $K3SBK_ENGINE_CACHE (default /var/cache/k3s-buildkit-engine).
# Prints the directory holding kube-apiserver, kube-controller-manager, kubectl and etcd on stdout, one progress line on stderr.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 K3S_VERSION (e.g. v1.35.6+k3s1)" >&2; exit 2; }
[[ $1 =~ ^v1\.([0-9]+)\.([0-9]+)\+k3s[0-9]+$ ]] || { echo "kube-apiserver: $1 is not a k3s release version (v1.X.Y+k3sN)" >&2; exit 2; }
minor=${BASH_REMATCH[1]} patch=${BASH_REMATCH[2]}
cache=${K3SBK_ENGINE_CACHE:-/var/cache/k3s-buildkit-engine}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
command -v go >/dev/null || { echo "kube-apiserver: no Go toolchain (Go >= 1.26 builds kube-apiserver and etcd)" >&2; exit 1; }
start=$(date +%s%N)
took() { local ms=$((($(date +%s%N) - start) / 1000000)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }

# The release: the k3s version's own patch when served, else the newest served patch of the minor.
served=$(go list -m -versions k8s.io/kubernetes 2>/dev/null | tr ' ' '\n' | grep -E "^v1\.$minor\.[0-9]+$" | sort -t. -k3 -n || true)
if grep -qx "v1.$minor.$patch" <<<"$served"; then
  version=v1.$minor.$patch
else
  version=$(tail -1 <<<"$served")
  [ -n "$version" ] || { echo "kube-apiserver: the Go module proxy serves no k8s.io/kubernetes v1.$minor.x" >&2; exit 1; }
  echo "kube-apiserver: k8s.io/kubernetes v1.$minor.$patch is not served; using $version (same minor)" >&2
fi
out="$cache/kube-apiserver-$version"
if [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-controller-manager" ] && [ -x "$out/kubectl" ] && [ -x "$out/etcd" ] && "$out/kube-apiserver" --version | grep -qx "Kubernetes $version"; then
  echo "kube-apiserver: $version cached ($(took)): $("$out/etcd" --version | head -1)" >&2
  echo "$out"
  exit 0
fi
src=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -n "$src" ] || { echo "kube-apiserver: go mod download k8s.io/kubernetes@$version failed" >&2; exit 1; }
etcd=$(sed -n 's/^\tgo\.etcd\.io\/etcd\/server\/v3 \(v[0-9.]*\).*/\1/p' "$src/go.mod")
[ -n "$etcd" ] || { echo "kube-apiserver: $src/go.mod names no go.etcd.io/etcd/server/v3" >&2; exit 1; }
work=$(mktemp -d)
built=$(mktemp -d "$cache/.kube-apiserver-$version.XXXXXX") # (a concurrent run builds its own)
trap 'rm -rf "$work" "$built"' EXIT
{
  printf 'module k3sbk.local/kube-apiserver\n\ngo 1.25.0\n\nrequire k8s.io/kubernetes %s\n\n' "$version"
  grep '=> ./staging' "$src/go.mod" | awk -v v="v0.$minor.${version##*.}" '{print "replace " $1 " => " $1 " " v}'
} >"$work/go.mod"
stamp="-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1"
stamp+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
stamp+=" -X k8s.io/client-go/pkg/version.gitVersion=$version"
(
  cd "$work"
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$version" "k8s.io/kubernetes/cmd/kubectl@$version" "go.etcd.io/etcd/server/v3@$etcd" 2>/dev/null
  go build -trimpath -o "$built/kube-apiserver" -ldflags "-s -w $stamp" k8s.io/kubernetes/cmd/kube-apiserver
  go build -trimpath -o "$built/kube-controller-manager" -ldflags "-s -w $stamp" k8s.io/kubernetes/cmd/kube-controller-manager
  go build -trimpath -o "$built/kubectl" -ldflags "-s -w $stamp" k8s.io/kubernetes/cmd/kubectl
  go build -trimpath -o "$built/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3
) >&2
chmod 755 "$built" && rm -rf "$out" && mv "$built" "$out"
echo "kube-apiserver: $version built ($(took)): $("$out/kube-apiserver" --version), etcd $etcd" >&2
echo "$out"
