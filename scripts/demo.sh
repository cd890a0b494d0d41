#!/usr/bin/env bash
# `npm run demo`: installs on first use, then runs `cohort demo` with any extra arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-install.sh
exec node bin/cohort.js demo "$@"
