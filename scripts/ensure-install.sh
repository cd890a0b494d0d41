#!/usr/bin/env bash
# Installs what a fresh clone needs, offline from everything but the npm registry and Debian:
# - npm dependencies (Electron's binary download and onnxruntime-node's CUDA fetch skipped: neither can
#   be downloaded here, and neither is needed to run or test the site agent and coordinator);
# - the build in dist/ (npm's `prepare` runs it).
# Re-running is cheap: it does nothing when node_modules matches package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export ELECTRON_SKIP_BINARY_DOWNLOAD=1 ONNXRUNTIME_NODE_INSTALL=skip npm_config_loglevel=error npm_config_fund=false npm_config_audit=false
stamp=node_modules/.cohort-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "cohort: installing npm dependencies (first run takes about two minutes)..." >&2
  npm ci
  cp package-lock.json "$stamp"
elif [ ! -d dist ]; then
  npm run --silent build
fi
