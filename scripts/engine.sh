#!/usr/bin/env bash
# `npm run engine`: the Pulumi engine this program runs on, built from Go modules where no Pulumi CLI can
# be downloaded (no get.pulumi.com, no GitHub). Versions come from package-lock.json, never from here:
# - pulumi                         the CLI, module github.com/pulumi/pulumi/pkg/v3 at @pulumi/pulumi's version
# - pulumi-language-nodejs         Pulumi's own when its module is served; otherwise tools/engine/language-host.ts
# - pulumi-resource-pulumi-nodejs  the dynamic-provider launcher, from the sdk/v3 module at the same version
# - pulumi-resource-<name>         for every @pulumi/<name> provider package the lock pins (kubernetes):
#                                  built where its module is served at that version, else reported
# Built binaries are cached by version in $K3SBK_ENGINE_CACHE (default /var/cache/k3s-buildkit-engine), so a
# second run takes seconds and only a moved pin rebuilds. The project's bin directory and PULUMI_HOME are
# .cache/engine/{bin,home}; `. .cache/engine/env` puts them in a shell (no download at run time: automatic
# plugin acquisition and the update check are off). One line per component, with its time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${K3SBK_ENGINE_CACHE:-/var/cache/k3s-buildkit-engine}
out="$root/.cache/engine"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
command -v go >/dev/null || {
  echo "engine: no Go toolchain: install the Pulumi CLI (https://www.pulumi.com/docs/install/) or Go >= 1.26 to build it" >&2
  exit 1
}
[ -f node_modules/@pulumi/pulumi/package.json ] || {
  echo "engine: node_modules is missing: run npm ci first" >&2
  exit 1
}
# shellcheck source=scripts/use-supported-node.sh
. scripts/use-supported-node.sh >/dev/null
node_bin=$(command -v node)

locked() { node -p "require('./package-lock.json').packages['node_modules/$1']?.version ?? ''"; }
now() { date +%s%N; }
took() {
  local ms=$((($(now) - $1) / 1000000))
  printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100))
}
line() { printf 'engine: %-30s %-10s %s\n' "$1" "$2" "$3"; }
mkdir -p "$cache" "$out/bin" "$out/home"

sdk=$(locked @pulumi/pulumi)
[ -n "$sdk" ] || { echo "engine: package-lock.json pins no @pulumi/pulumi" >&2; exit 1; }

# fetch MOD VER: downloads a module; sets $mdir (its directory in the module cache, "" when the proxy
# has no such version) and $why (the proxy's answer when it has none).
fetch() {
  local json
  json=$(go mod download -json "$1@$2" 2>/dev/null || true)
  why=$(printf '%s' "$json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);process.stdout.write(j.Error??"")}catch{process.stdout.write("no answer from the Go module proxy")}})')
  mdir=$(printf '%s' "$json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);process.stdout.write(j.Error?"":j.Dir??"")}catch{}})')
}

# --- the CLI ------------------------------------------------------------------------------------------
t=$(now)
cli="$cache/pulumi-v$sdk/pulumi"
if [ -x "$cli" ] && [ "$("$cli" version 2>/dev/null)" = "v$sdk" ]; then
  state=cached
else
  fetch github.com/pulumi/pulumi/pkg/v3 "v$sdk"
  pkg=$mdir
  if [ -z "$pkg" ]; then
    echo "engine: pulumi v$sdk: cannot build: tried module github.com/pulumi/pulumi/pkg/v3@v$sdk: $why" >&2
    echo "engine: pin @pulumi/pulumi to a version the Go module proxy serves (go list -m -versions github.com/pulumi/pulumi/pkg/v3)" >&2
    exit 1
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # pkg/v3's go.mod replaces sdk/v3 with ../sdk (local, not in the module) and requires an older sdk:
  # a wrapper module requires both at one version and keeps pkg's non-local replaces.
  {
    printf 'module k3sbk.local/engine\n\ngo 1.26\n\nrequire (\n\tgithub.com/pulumi/pulumi/pkg/v3 v%s\n\tgithub.com/pulumi/pulumi/sdk/v3 v%s\n)\n' "$sdk" "$sdk"
    grep -E '^replace .* => [^.]' "$pkg/go.mod" | grep -v '=> \.' || true
  } >"$work/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >"$work/tools.go"
  (cd "$work" && go mod tidy >/dev/null 2>"$work/log" && go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$sdk" \
    -o "$work/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi 2>>"$work/log") || {
    echo "engine: pulumi v$sdk: build failed:" >&2
    tail -20 "$work/log" >&2
    exit 1
  }
  mkdir -p "$(dirname "$cli")"
  mv -f "$work/pulumi" "$cli.tmp" && mv -f "$cli.tmp" "$cli"
  state=built
fi
ln -sfn "$cli" "$out/bin/pulumi"
line pulumi "v$sdk" "$state ($(took "$t"))"

# --- the dynamic-provider launcher ----------------------------------------------------------------------
t=$(now)
dyn="$cache/pulumi-v$sdk/pulumi-resource-pulumi-nodejs"
if [ ! -x "$dyn" ]; then
  fetch github.com/pulumi/pulumi/sdk/v3 "v$sdk"
  sdkdir=$mdir
  [ -n "$sdkdir" ] || { echo "engine: pulumi-resource-pulumi-nodejs v$sdk: tried module github.com/pulumi/pulumi/sdk/v3@v$sdk: $why" >&2; exit 1; }
  install -m 0755 "$sdkdir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$dyn"
  state=installed
else
  state=cached
fi
# It runs `node` from PATH on @pulumi/pulumi/cmd/dynamic-provider: give it the supported node.
printf '#!/bin/sh\nPATH=%s:$PATH exec %s "$@"\n' "$(dirname "$node_bin")" "$dyn" >"$out/bin/pulumi-resource-pulumi-nodejs"
chmod 0755 "$out/bin/pulumi-resource-pulumi-nodejs"
line pulumi-resource-pulumi-nodejs "v$sdk" "$state ($(took "$t"))"

# --- the language host ------------------------------------------------------------------------------------
t=$(now)
lh_mod=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
fetch "$lh_mod" "v$sdk"
lh_why="$lh_mod@v$sdk: not served"
if [ -n "$mdir" ]; then
  lh_why="$lh_mod@v$sdk is served now: build it as the CLI is built (this script does not yet)"
fi
printf '#!/bin/sh\nexec %s --import %s %s "$@"\n' "$node_bin" "$root/node_modules/tsx/dist/loader.mjs" "$root/tools/engine/language-host.ts" \
  >"$out/bin/pulumi-language-nodejs"
chmod 0755 "$out/bin/pulumi-language-nodejs"
line pulumi-language-nodejs "v$sdk" "tools/engine/language-host.ts ($lh_why) ($(took "$t"))"

# --- resource providers the program's packages need -----------------------------------------------------
for name in $(node -p "Object.keys(require('./package-lock.json').packages).filter(k=>/^node_modules\/@pulumi\/[a-z-]+$/.test(k)).map(k=>k.slice(21)).filter(n=>require('./node_modules/@pulumi/'+n+'/package.json').pulumi?.resource).join(' ')"); do
  t=$(now)
  ver=$(locked "@pulumi/$name")
  plugin="$out/home/plugins/resource-$name-v$ver/pulumi-resource-$name"
  if [ -x "$plugin" ]; then
    line "pulumi-resource-$name" "v$ver" "cached ($(took "$t"))"
    continue
  fi
  # Provider repos tag their Go SDK (sdk/vN.x.y); the provider module itself has no tags.
  major=${ver%%.*}
  case $name in
    command) mods="github.com/pulumi/pulumi-command/provider github.com/pulumi/pulumi-command/sdk" ;;
    *) mods="github.com/pulumi/pulumi-$name/provider/v$major github.com/pulumi/pulumi-$name/sdk/v$major" ;;
  esac
  tried=()
  for m in $mods; do
    fetch "$m" "v$ver"
    if [ -n "$mdir" ]; then
      tried+=("$m@v$ver: served, but this script does not build providers yet")
    else
      tried+=("$m@v$ver: ${why%%$'\n'*}")
    fi
  done
  line "pulumi-resource-$name" "v$ver" "unavailable ($(took "$t")): stacks that use it cannot run on this engine"
  for x in "${tried[@]}"; do echo "engine:   tried $x"; done
done

cat >"$out/env" <<EOF
# Sourced by scripts/pulumi.sh and the real-engine tests: the engine built by scripts/engine.sh.
export PATH="$out/bin:$(dirname "$node_bin"):\$PATH"
export PULUMI_HOME="$out/home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
EOF
