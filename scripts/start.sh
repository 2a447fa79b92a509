#!/usr/bin/env bash
# `npm start`: sets up what is missing, then runs the whole stack (see scripts/stack.ts).
set -euo pipefail
source "$(dirname "$0")/setup.sh"
exec node --import tsx scripts/stack.ts
