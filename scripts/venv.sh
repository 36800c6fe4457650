# Sourced by serve.sh and test.sh: make .venv if missing and install the project into it
# with the extras named in $1 (empty for none). pip's notes about this machine's extra
# package indexes are filtered out; real errors still stop the script. setuptools' note on
# every editable install (folders named like the packages in the working directory take
# precedence on imports: here they are the packages) is silenced by Python's warning filter.
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2> >(grep -v "^WARNING: Location" >&2)
PYTHONWARNINGS="ignore:Editable installation" \
    .venv/bin/python -m pip install --quiet -e ".${1:+[$1]}" 2> >(grep -v "^WARNING: Location" >&2)
