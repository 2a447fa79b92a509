#!/usr/bin/env bash
# `npm test`: sets up what is missing, then type-checks, lints and runs every test (unit, workflow,
# integration, e2e) against a Temporal dev server and databases of the suite's own.
set -euo pipefail
source "$(dirname "$0")/setup.sh"

echo "test: type-checking" >&2
npx tsc --noEmit -p .
echo "test: linting" >&2
npx eslint .
echo "test: running vitest" >&2
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$results" || true
exit "$status"
