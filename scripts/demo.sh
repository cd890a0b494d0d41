#!/usr/bin/env bash
# `npm run demo`: installs on first use, builds (a second or two; keeps dist/ in step with the sources
# after a pull), then runs `cohort demo` with any extra arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-install.sh
npm run --silent build -- --quiet
exec node bin/cohort.js demo "$@"
