#!/usr/bin/env bash
# Runs the test suite. PostgreSQL tests use RECOVERY_TEST_DATABASE_URL; without it they
# are skipped locally and FAIL under CI (CI=true), so CI can never pass without them.
set -uo pipefail
cd "$(dirname "$0")/.."
export RECOVERY_TEST_DATABASE_URL="${RECOVERY_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
.venv/bin/pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
