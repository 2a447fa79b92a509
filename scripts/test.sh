#!/usr/bin/env bash
# `npm test`: sets up what is missing, then type-checks, lints and runs every test (unit, workflow,
# integration, e2e) against a Temporal dev server and databases of the suite's own.
set -euo pipefail
source "$(dirname "$0")/setup.sh"

# Debian packages some tests need: Chromium for the self-service page (Playwright's own browser download
# cannot work here), docker-compose to validate docker-compose.yml (its `config` needs no engine).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test: installing Debian's ${missing[*]} for the tests" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
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
