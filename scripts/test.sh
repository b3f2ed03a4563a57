#!/usr/bin/env bash
# Install everything the tests need (Debian packages, a virtual environment with the project and its
# test extras), make sure PostgreSQL and Redis run, then lint, type-check and run the whole suite.
# Usage: scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# --- Debian packages: XMPP server, IMAP server, browser, independent clients --------------------
need=()
for pkg in prosody dovecot-imapd chromium chromium-driver sendxmpp swaks nginx; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# npm (for axe-core below): Debian's package only where no npm is on the PATH already (a Node.js
# installed another way brings its own, and Debian's npm would conflict with it).
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- PostgreSQL and Redis on loopback ------------------------------------------------------------
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "== starting PostgreSQL"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "== starting Redis"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi

# --- Python: a virtual environment with the project and its test extras ------------------------
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/pip install -q -e '.[test]'

# --- npm: axe-core for the browser tests' accessibility checks (tests/browser/page_checks.py) ----
# A missing axe fails those tests (never skips them): install it where they look for it.
if [ ! -f .cache/node/node_modules/axe-core/axe.min.js ]; then
  echo "== installing axe-core"
  npm install --prefix .cache/node --no-audit --no-fund --silent axe-core@4
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
# The slowest tests are printed so that each CI log says where the 20 minutes go.
exec .venv/bin/python -m pytest -p no:cacheprovider --durations=25 "$@"
