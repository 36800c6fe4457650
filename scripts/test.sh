#!/usr/bin/env bash
# Set up (a virtual environment in .venv with the project and its test extras) and run every check:
# ruff lint, ruff format check, the import-layer contracts, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh "test"
# The dashboard test drives Debian's headless Chromium; install it where we may (root, as in CI).
# Without it that test fails with a message saying what to install; it never passes silently.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "warning: /usr/bin/chromium or /usr/bin/chromedriver is missing (not root: not" \
            "installing); the dashboard browser tests will fail" >&2
    fi
fi
. .venv/bin/activate
ruff check .
ruff format --check .
lint-imports
pytest "$@"
