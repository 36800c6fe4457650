# Sourced by serve.sh and test.sh: make .venv if missing and install the project into it
# with the extras named in $1 (empty for none). pip's notes about this machine's extra
# package indexes are filtered out; real errors still stop the script.
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2> >(grep -v "^WARNING: Location" >&2)
.venv/bin/python -m pip install --quiet -e ".${1:+[$1]}" 2> >(grep -v "^WARNING: Location" >&2)
