#!/usr/bin/env bash
# Install the third-party programs the interop tests (test/interop/) drive: Debian's `swaks`
# (SMTP client) and `postfix` (run by the tests as private, throw-away instances; see
# test/interop/postfix.ts), and `openssl`, which makes the certificates of the TLS tests
# (test/helpers/certs.ts) at test time. Idempotent and non-interactive; safe to run as root on a fresh
# Debian machine and again on one that already has them.
#
# - postfix's debconf question is preseeded to "No configuration": no /etc/postfix/main.cf is
#   written and the package does not configure a system mail server.
# - A temporary policy-rc.d forbids maintainer scripts from starting services, so no system
#   Postfix grabs port 25; any system Postfix found running afterwards is stopped. The tests
#   never use the system instance: each starts its own with `postfix -c DIR`.
# - --no-install-recommends keeps the install small (no python3, no procmail); the TLS Perl libs
#   swaks needs for STARTTLS are listed explicitly.
set -euo pipefail

start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive

# Debian packages the tests drive, and a command each must provide. Add a line per package here
# (one list, so several additions do not fight over the apt-get line).
PACKAGES=(
  "swaks:swaks"
  "postfix:/usr/sbin/postconf"
  "curl:curl"            # the README's one-minute try sends with curl; test/cli/first-minutes.test.ts runs it
  "openssl:openssl"      # makes the TLS tests' certificates at test time (test/helpers/certs.ts)
  "sqlite3:sqlite3"      # test/cli/auditVerify.test.ts tampers with audit.db the way an intruder would
  "chromium:chromium"    # test/audit/html.browser.test.ts renders the HTML audit report
  # swaks speaks STARTTLS/implicit TLS only with these (test/relay/listeners.test.ts: submission attacks)
  "libnet-ssleay-perl:/usr/share/doc/libnet-ssleay-perl"
  "libio-socket-ssl-perl:/usr/share/perl5/IO/Socket/SSL.pm"
)
names() { for p in "${PACKAGES[@]}"; do printf '%s ' "${p%%:*}"; done; }

have_all() {
  # a check that is a path (a library has no command) must exist; anything else must be a command
  for p in "${PACKAGES[@]}"; do c=${p#*:}; if [[ $c == /* ]]; then [ -e "$c" ] || return 1; else command -v "$c" >/dev/null 2>&1 || return 1; fi; done
  [ -x /usr/sbin/postfix ] && getent passwd postfix >/dev/null && getent group postdrop >/dev/null
}

if have_all; then
  echo "install-interop: $(names)already installed"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-interop: must run as root to apt-get install $(names)" >&2
    exit 1
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "postfix postfix/mailname string localhost.localdomain" | debconf-set-selections

  # Keep maintainer scripts from starting daemons (no systemd here; invoke-rc.d honours this).
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  cleanup() { if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi; }
  trap cleanup EXIT

  # Only refresh the package lists when the candidates are unknown (fresh machine).
  # shellcheck disable=SC2046
  if ! apt-cache show $(names) >/dev/null 2>&1; then
    apt-get update -qq
  fi
  # Skip man-db's index rebuild (a few seconds, useless here).
  echo "man-db man-db/auto-update boolean false" | debconf-set-selections
  log=$(mktemp)
  if ! apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      $(names) >"$log" 2>&1; then
    # Stale lists (a package version vanished from the mirror): refresh once and retry.
    echo "install-interop: first install attempt failed; refreshing package lists and retrying:" >&2
    tail -n 20 "$log" >&2
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      $(names)
  fi
  rm -f "$log"
fi

# A system Postfix (started by hand or by a package script) would hold port 25 and the default
# queue; the tests don't need it. Stop it if it runs. (Private test instances live under temp
# dirs with their own config_directory, so `postfix status` on the default one doesn't see them.)
if [ -f /etc/postfix/main.cf ] && /usr/sbin/postfix status >/dev/null 2>&1; then
  echo "install-interop: stopping the system postfix"
  /usr/sbin/postfix stop >/dev/null 2>&1 || true
fi

echo "install-interop: $(swaks --version 2>&1 | head -n1); postfix $(/usr/sbin/postconf -d -h mail_version)"
echo "install-interop: done in $(( $(date +%s) - start ))s"
