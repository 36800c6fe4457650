#!/usr/bin/env bash
# Set up (a virtual environment in .venv with the project and its test extras) and run every check:
# ruff lint, ruff format check, the import-layer contracts, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
. .venv/bin/activate
ruff check .
ruff format --check .
lint-imports
pytest "$@"
