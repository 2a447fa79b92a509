#!/usr/bin/env bash
# Shared, idempotent set-up for the start and test commands: dependencies, PostgreSQL, the Temporal CLI.
# Quick when everything is already in place. Sourced by scripts/start.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:/usr/local/go/bin"

# Install only when the lockfile changed since the last install. `npm install` rather than `npm ci`: the
# lockfile is written without registry addresses, which leaves out other platforms' optional packages, and
# `npm ci` refuses such a lockfile; `npm install` installs exactly what it pins and leaves it unchanged.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  npm install --no-audit --no-fund >&2
fi

# PostgreSQL on 127.0.0.1:5432, started when it is installed but down.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "setup: starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start >&2
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && break; sleep 1; done
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "setup: PostgreSQL is not reachable at 127.0.0.1:5432 (set DATABASE_URL for another one)" >&2; exit 1; }
fi

# The Temporal CLI, built once from its Go module and cached outside the checkout.
bash scripts/temporal-cli.sh >/dev/null
