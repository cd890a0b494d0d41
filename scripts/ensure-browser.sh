#!/usr/bin/env bash
# End-to-end tests drive Debian's Chromium through Playwright (Playwright's own browser download is not
# reachable here). Installs it, and Xvfb for desktop-window screenshots, when missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
if [ ${#need[@]} -gt 0 ]; then
  echo "cohort: installing ${need[*]} from Debian for the end-to-end tests..." >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
