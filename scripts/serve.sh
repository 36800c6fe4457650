#!/usr/bin/env bash
# Set up (a virtual environment in .venv with the project) and run the whole stack on one machine:
# an embedded Redis-compatible server unless REDIS_URL is set, one Celery worker and the API.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/nnservice up "$@"
