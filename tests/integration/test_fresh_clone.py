"""Acceptance: a fresh clone, anywhere, does what the README says.

The repository's committed HEAD is cloned into an empty temporary directory (nothing beside it: no
`../shared`), and the README is followed as a new user would follow it:

- the quick start's `./scripts/serve.sh`, on a free port (`--port N`), in the background: it makes
  the clone's `.venv` (pip, 1-3 minutes with a warm cache) and runs `nnservice up`, which prints the
  `export NNSERVICE_URL=...` line;
- in a second, fresh shell (`bash -c`, a bare PATH, a new HOME, nothing else from this process),
  that line, then every bash block of "The seed, over HTTP" and "The command-line client", run as
  printed (under `set -eo pipefail`, so a failing command stops the shell and the test sees it).

The quick start's other command, `./scripts/test.sh`, is not run here: it is the command that runs
this test. Uncommitted changes are not in the clone. At the end `nnservice up` gets SIGTERM and must
stop with every process it started; the clone (with its `.venv`) is removed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from stack import alive, descendant_pids  # tests/stack.py, loaded by tests/conftest.py

from nnservice.embedded_redis import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
#: serve.sh's set-up (a new .venv) and the stack's start, bounded generously for a busy machine.
SERVE_SECONDS = 600
WALKTHROUGH_SECONDS = 300

pytestmark = [pytest.mark.slow, pytest.mark.timeout(SERVE_SECONDS + WALKTHROUGH_SECONDS + 180)]


def readme_section(text: str, heading: str) -> str:
    """The README's section under `## heading`, up to the next `## `."""
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def bash_blocks(section: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def clone_head(destination: Path) -> None:
    """`git clone` the repository and check out its committed HEAD."""
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        pytest.skip(f"{REPO_ROOT} is not a git checkout: nothing to clone ({head.stderr.strip()})")
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(destination)], check=True)
    checkout = ["git", "-C", str(destination), "checkout", "--quiet", "--detach"]
    subprocess.run([*checkout, head.stdout.strip()], check=True)


def user_environment(tmp: Path) -> dict[str, str]:
    """This process's environment as a user's shell would have it: no virtual environment active
    and none of the service's variables; temporary files under `tmp`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NNSERVICE_", "AWS_", "PYTEST")) and key not in ("REDIS_URL",)
    }
    venv = env.pop("VIRTUAL_ENV", None)
    if venv:
        parts = env.get("PATH", "").split(os.pathsep)
        env["PATH"] = os.pathsep.join(part for part in parts if not part.startswith(venv))
    env["TMPDIR"] = str(tmp)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_for_url(process: subprocess.Popen, log: Path, port: int) -> str:
    """The URL of the `export NNSERVICE_URL=...` line once the API answers /healthz there."""
    deadline = time.monotonic() + SERVE_SECONDS
    url = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve.sh exited {process.returncode}:\n{log.read_text()}"
        if url is None:
            found = re.search(r"^export NNSERVICE_URL=(\S+)$", log.read_text(), re.M)
            url = found.group(1) if found else None
        if url is not None:
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    return url
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or still starting
        time.sleep(0.5)
    pytest.fail(f"serve.sh did not serve within {SERVE_SECONDS} s:\n{log.read_text()}")


def stop(process: subprocess.Popen, log: Path) -> None:
    """SIGTERM to `nnservice up` (serve.sh execs it), and it must stop with all it started."""
    started = descendant_pids(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(90)
    finally:
        leftovers = [pid for pid in started if alive(pid)]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
    assert code == 0, log.read_text()
    assert not leftovers, f"still running after nnservice up stopped: {leftovers}"


def test_the_readme_works_in_a_fresh_clone_with_nothing_beside_it(tmp_path: Path) -> None:
    parent = tmp_path / "anywhere"
    parent.mkdir()
    clone = parent / "nnservice"
    clone_head(clone)
    assert sorted(path.name for path in parent.iterdir()) == ["nnservice"]  # no ../shared

    readme = (clone / "README.md").read_text()
    quick_start = "\n".join(bash_blocks(readme_section(readme, "Quick start")))
    serve = re.search(r"^(\./scripts/serve\.sh)\b", quick_start, re.M)
    assert serve and re.search(r"^\./scripts/test\.sh\b", quick_start, re.M), quick_start
    walkthrough = bash_blocks(readme_section(readme, "The seed, over HTTP"))
    walkthrough += bash_blocks(readme_section(readme, "The command-line client"))
    assert len(walkthrough) >= 3, walkthrough

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [serve.group(1), "--port", str(port)],
            cwd=clone,
            env=user_environment(tmp),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = wait_for_url(server, log, port)
        assert url == f"http://127.0.0.1:{port}"
        export = f"export NNSERVICE_URL={url}"
        home = tmp_path / "home"
        home.mkdir()
        shell = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        script = "\n".join(["set -eo pipefail", export, *walkthrough])
        run = subprocess.run(
            ["bash", "-c", script],
            cwd=clone,
            env=shell,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=WALKTHROUGH_SECONDS,
        )
        out, err = run.stdout, run.stderr
        # The seed over HTTP: the job succeeded, then Emily and Frank as the seed has them.
        assert re.search(r"^succeeded m-\S+ ", out, re.M), (out, err)
        first_two = re.findall(r'"probability_female": ?([0-9.]+)', out)[:2]
        assert [round(float(p), 3) for p in first_two] == [0.952, 0.048], (out, err)
        assert re.search(r'"rows": ?10000', out), (out, err)  # the example people, as they are
        # The command line: the same numbers, then the cancelled job's watch exits 1, last.
        assert re.search(r"^128\s+63\s+F\s+0\.952$", out, re.M), (out, err)
        assert re.search(r"^155\s+68\s+M\s+0\.048$", out, re.M), (out, err)
        assert "cancel requested for job" in out, (out, err)
        assert re.search(r"job \S+ cancelled", err), (out, err)
        assert run.returncode == 1, (out, err)
        # All of it reached this stack, on its port.
        datasets = requests.get(f"{url}/datasets", timeout=10).json()
        assert sorted(item["rows"] for item in datasets) == [4, 10_000], datasets
    finally:
        stop(server, log)
        shutil.rmtree(parent)
