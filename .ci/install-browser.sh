#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the browser tests (tests/browser/).
# A fast no-op once installed. Needs root (CI is). No browser is downloaded by a test tool.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-browser: chromium/chromedriver missing; run as root (or: sudo apt-get install chromium chromium-driver)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]
