#!/usr/bin/env bash
# The test command: type-checks, builds dist/ (so the CLI the tests start is the compiled
# one, as users run it), then runs every test file with node's test runner. The store
# and API suites also run against PostgreSQL: a throwaway server is started here unless
# SHIPGATE_TEST_DATABASE_URL already points at one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SHIPGATE_TEST_DATABASE_URL:-}" ]; then
  eval "$(bash scripts/pg-start.sh)"
  trap 'bash scripts/pg-stop.sh "$SHIPGATE_TEST_PGDIR"' EXIT
fi
npx tsc --noEmit
npm run build --silent
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
# A test (or a test file) still running after 20 minutes fails with its name rather than holding CI until it is killed.
node --import tsx --test --test-concurrency=2 --test-timeout=1200000 "${files[@]}"
