#!/usr/bin/env bash
# `npm test`: sets up what is missing, then type-checks, lints and runs every test (unit, workflow,
# integration, e2e) against a Temporal dev server and databases of the suite's own.
set -euo pipefail
source "$(dirname "$0")/setup.sh"

# The self-service page is tested in Debian's Chromium (Playwright's own browser download cannot work here).
if [ ! -x /usr/bin/chromium ]; then
  echo "test: installing Debian's chromium for the browser tests" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else sudo apt-get update -qq >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2; fi
fi

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
