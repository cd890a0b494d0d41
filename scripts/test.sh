#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install, type-check, lint, format check, build, unit and
# integration tests (Vitest), end-to-end tests (Playwright + Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-install.sh
bash scripts/ensure-browser.sh
export npm_config_loglevel=error
step() { printf '\n\033[1m== %s\033[0m\n' "$1"; }
step "typecheck"; npm run --silent typecheck
step "lint"; npm run --silent lint
step "format"; npx prettier --check . --log-level warn
step "build"; npm run --silent build
step "unit and integration tests"; npx vitest run
step "end-to-end tests"; npx playwright test
