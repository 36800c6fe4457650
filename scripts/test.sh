#!/usr/bin/env bash
# Set up (a virtual environment in .venv with the project and its test extras) and run every check:
# ruff lint, ruff format check, the import-layer contracts, then the whole pytest suite.
#
#   ./scripts/test.sh [--with-backends] [pytest arguments...]
#
# pytest runs in two processes (pytest-xdist, `-n 2`; each starts its own stack, and the store's
# tests each get a database and a key prefix of their own): most tests wait on servers, so two
# processes take about 60% of one's time on 2 cores. `-n 0` among the arguments runs one process.
#
# --with-backends also starts a real PostgreSQL 15 and a real S3 server (SeaweedFS) for the store's
# tests (scripts/ci_backends.sh; stopped when this script exits); without it those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."
with_backends=
if [ "${1:-}" = "--with-backends" ]; then
    with_backends=1
    shift
fi
. scripts/venv.sh "test"

# Debian packages the tests drive: installed where we may (root with apt, as in CI).
apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
        return 0
    fi
    return 1
}
# The dashboard test drives Debian's headless Chromium. Without it that test fails with a message
# saying what to install; it never passes silently.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    apt_install chromium chromium-driver ||
        echo "warning: /usr/bin/chromium or /usr/bin/chromedriver is missing (not root: not" \
            "installing); the dashboard browser tests will fail" >&2
fi
if [ -n "$with_backends" ]; then
    if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
        apt_install postgresql-15 || {
            echo "error: --with-backends needs Debian's postgresql-15 (not root: not installing)" >&2
            exit 1
        }
    fi
    . scripts/ci_backends.sh
fi
. .venv/bin/activate
ruff check .
ruff format --check .
lint-imports
pytest -n 2 --dist worksteal "$@"
