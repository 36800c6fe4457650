#!/usr/bin/env bash
# Set up (a virtual environment in .venv with the project) and run the whole stack on one machine:
# an embedded Redis-compatible server unless REDIS_URL is set, one Celery worker and the API.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh ""
exec .venv/bin/nnservice up "$@"
