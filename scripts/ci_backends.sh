# Sourced by `scripts/test.sh --with-backends` (what .ci/run runs) once .venv exists: start a real
# PostgreSQL 15 and a real S3 server (SeaweedFS) for the store's tests, export the variables that
# name them (NNSERVICE_TEST_DATABASE_URL, NNSERVICE_TEST_OBJECT_STORE and the AWS_* ones), and stop
# both when this shell exits.
# tests/backends.py starts and holds the servers; it stops them on SIGTERM or when this shell is gone.
# Sets the shell's EXIT, INT and TERM traps.
_backends_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_backends_out=$(mktemp -d -t nnservice-backends.XXXXXX) || return 1
"$_backends_root/.venv/bin/python" "$_backends_root/tests/backends.py" \
    >"$_backends_out/env" 2>"$_backends_out/log" &
_backends_pid=$!

_backends_stop() {
    if kill -0 "$_backends_pid" 2>/dev/null; then
        kill -TERM "$_backends_pid" 2>/dev/null || true
        wait "$_backends_pid" || true
    fi
    rm -rf "$_backends_out"
}
trap _backends_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# tests/backends.py bounds each server's start (60 s, three tries on port clashes); this is a backstop.
_backends_deadline=$((SECONDS + 300))
until grep -qsx '# ready' "$_backends_out/env"; do
    if ! kill -0 "$_backends_pid" 2>/dev/null || ((SECONDS > _backends_deadline)); then
        echo "scripts/ci_backends.sh: PostgreSQL and SeaweedFS did not start:" >&2
        cat "$_backends_out/log" >&2
        return 1
    fi
    sleep 0.2
done
. "$_backends_out/env"
cat "$_backends_out/log" >&2
