#!/usr/bin/env bash
# `npm run engine`: the Pulumi engine this program runs on, built from Go modules where no Pulumi CLI can
# be downloaded (no get.pulumi.com, no GitHub). Versions come from package-lock.json:
# - pulumi                         the CLI, module github.com/pulumi/pulumi/pkg/v3 at @pulumi/pulumi's version
# - pulumi-language-nodejs         Pulumi's own when its module is served; otherwise tools/engine/language-host.ts
# - pulumi-resource-pulumi-nodejs  the dynamic-provider launcher, from the sdk/v3 module at the same version
# - pulumi-resource-<name>         for every @pulumi/<name> provider package the lock pins (kubernetes): built
#                                  from its provider module at that version where served, else from the commit
#                                  pinned below (pinned_source), else reported as unavailable
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
# Provider repositories tag only their SDK modules (sdk/vN.x.y); the provider module has no tags, so the proxy
# serves it only at pseudo-versions. Where the tagged source is not served, the source a provider is built
# from is pinned here, by commit, and said on the engine's line: the plugin is installed under the version the
# npm package asks for (the engine looks it up by that), built from that commit.
pinned_source() {
  case $1 in
    kubernetes) echo "github.com/pulumi/pulumi-kubernetes/provider/v4 v4.0.0-20260115033456-f47bc2d6f199" ;;
  esac
}

# build_provider NAME VER MODDIR OUT: builds pulumi-resource-NAME from the provider module in MODDIR, stamped
# VER, into OUT. The module's go.mod replaces its SDK with ../sdk (not in the module): the SDK at the version
# it requires takes its place. The schema is embedded as the provider's own generate step embeds it (the
# version set, compact JSON), without compiling that step's Go.
build_provider() {
  local name=$1 ver=$2 src=$3 dest=$4 work sdkmod sdkver
  work=$(mktemp -d)
  cp -r "$src/." "$work" && chmod -R u+w "$work" && rm -rf "$work/vendor"
  sdkmod=$(sed -n 's#^replace \(github.com/pulumi/pulumi-[a-z-]*/sdk[^ ]*\) => \.\./sdk$#\1#p' "$work/go.mod")
  if [ -n "$sdkmod" ]; then
    sdkver=$(awk -v m="$sdkmod" '$1 == m { print $2; exit }' "$work/go.mod")
    sed -i "s#^replace $sdkmod => ../sdk\$#replace $sdkmod => $sdkmod $sdkver#" "$work/go.mod"
  fi
  local cmd="$work/cmd/pulumi-resource-$name"
  node -e '
    const fs = require("fs"), [dir, ver] = process.argv.slice(1);
    const schema = JSON.parse(fs.readFileSync(dir + "/schema.json", "utf8"));
    schema.version = ver;
    fs.writeFileSync(dir + "/schema-embed.json", JSON.stringify(schema));
    if (fs.existsSync(dir + "/terraform-mapping.json"))
      fs.writeFileSync(dir + "/terraform-mapping-embed.json", JSON.stringify(JSON.parse(fs.readFileSync(dir + "/terraform-mapping.json", "utf8"))));
  ' "$cmd" "$ver"
  local modpath
  modpath=$(awk '$1 == "module" { print $2; exit }' "$work/go.mod")
  (cd "$work" && go build -trimpath -ldflags "-s -w -X $modpath/pkg/version.Version=$ver" \
    -o "$work/pulumi-resource-$name" "./cmd/pulumi-resource-$name" 2>"$work/log") || {
    echo "engine: pulumi-resource-$name v$ver: build failed:" >&2
    tail -20 "$work/log" >&2
    rm -rf "$work"
    return 1
  }
  mkdir -p "$(dirname "$dest")"
  mv -f "$work/pulumi-resource-$name" "$dest.tmp" && mv -f "$dest.tmp" "$dest"
  rm -rf "$work"
}

for name in $(node -p "Object.keys(require('./package-lock.json').packages).filter(k=>/^node_modules\/@pulumi\/[a-z-]+$/.test(k)).map(k=>k.slice(21)).filter(n=>require('./node_modules/@pulumi/'+n+'/package.json').pulumi?.resource).join(' ')"); do
  t=$(now)
  ver=$(locked "@pulumi/$name")
  major=${ver%%.*}
  case $name in
    command) tagged=github.com/pulumi/pulumi-command/provider ;;
    *) tagged=github.com/pulumi/pulumi-$name/provider/v$major ;;
  esac
  built_from() { echo "$cache/pulumi-resource-$name-v$ver-${2//\//_}/pulumi-resource-$name"; }
  plugin="$out/home/plugins/resource-$name-v$ver/pulumi-resource-$name"
  src_dir="" tagged_why=""
  # Built before (from the tag, else from the pinned commit): no module proxy needed, as on an air-gapped run.
  src_mod=$tagged src_ver=v$ver
  if [ ! -x "$(built_from "$src_mod" "$src_ver")" ] && [ -n "$(pinned_source "$name")" ]; then
    read -r src_mod src_ver <<<"$(pinned_source "$name")"
  fi
  if [ ! -x "$(built_from "$src_mod" "$src_ver")" ]; then
    # The source: the tagged provider module where served, else the pinned commit.
    fetch "$tagged" "v$ver"
    src_mod=$tagged src_ver=v$ver src_dir=$mdir tagged_why=${why%%$'\n'*}
    if [ -z "$src_dir" ] && [ -n "$(pinned_source "$name")" ]; then
      read -r src_mod src_ver <<<"$(pinned_source "$name")"
      fetch "$src_mod" "$src_ver"
      src_dir=$mdir
    fi
  fi
  bin=$(built_from "$src_mod" "$src_ver")
  from="from $src_mod@$src_ver"
  if [ -x "$bin" ]; then
    state=cached
  elif [ -n "$src_dir" ]; then
    build_provider "$name" "$ver" "$src_dir" "$bin" || exit 1
    state=built
  else
    line "pulumi-resource-$name" "v$ver" "unavailable ($(took "$t")): stacks that use it cannot run on this engine"
    echo "engine:   tried $tagged@v$ver: $tagged_why"
    continue
  fi
  mkdir -p "$(dirname "$plugin")"
  [ "$plugin" -ef "$bin" ] || ln -sfn "$bin" "$plugin"
  line "pulumi-resource-$name" "v$ver" "$state ($(took "$t")) $from"
done

cat >"$out/env" <<EOF
# Sourced by scripts/pulumi.sh and the real-engine tests: the engine built by scripts/engine.sh.
export PATH="$out/bin:$(dirname "$node_bin"):\$PATH"
export PULUMI_HOME="$out/home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
EOF
