#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for the store tests (tests/store/postgres.py
# starts a throw-away cluster on loopback). A fast no-op once installed. Needs root (CI is).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && id postgres >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-postgres: PostgreSQL is missing; run as root (or: sudo apt-get install postgresql)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# the package may start a system cluster; the tests start their own and need no service
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
