#!/usr/bin/env bash
# Install Debian's chromium for the browser test of the consent pages (test/web/browser.test.ts,
# driven by playwright-core with executablePath /usr/bin/chromium; playwright's own browser
# download is never used). Idempotent and non-interactive; run as root on a fresh Debian machine.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ -x /usr/bin/chromium ]; then
  echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1) already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium: must run as root to apt-get install chromium" >&2
  exit 1
fi
if ! apt-cache show chromium >/dev/null 2>&1; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
