"""The README's command-line lines, run as a new user would: pasted into a fresh shell.

The block under "The command-line client" runs as it is printed, in `bash -c` with a clean
environment (no venv active, a bare PATH and a new HOME), from a scratch directory that holds what
the repository root offers the block (`.venv` and `examples/`, linked), so the files the block
writes (`people-10k.tsv`) land there and not in the repository; only `NNSERVICE_URL`, the README's
own variable, points it at the test stack. Nothing but the README's lines runs in that shell, and
its output (a pipe, not a terminal) is what a newcomer would read in a log.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time

import pytest
import requests
from stack import REPO_ROOT
from stores import migrated

from foundation.settings import Settings
from nnservice.embedded_redis import free_port
from nnservice.supervisor import stop_process

pytestmark = pytest.mark.timeout(240)


def readme_cli_block() -> str:
    """The first bash block after the heading "## The command-line client"."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("## The command-line client") :]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_readme_cli_lines_in_a_fresh_shell(stack, tmp_path) -> None:
    block = readme_cli_block()
    assert block.startswith(". .venv/bin/activate")  # the README says how to reach the command
    home, root = tmp_path / "home", tmp_path / "root"
    home.mkdir()
    root.mkdir()
    for name in (".venv", "examples"):
        (root / name).symlink_to(REPO_ROOT / name)
    env = {
        "HOME": str(home),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "NNSERVICE_URL": stack.base_url,
    }
    run = subprocess.run(
        ["bash", "-c", block], cwd=root, env=env, capture_output=True, text=True, timeout=200
    )
    out, err = run.stdout, run.stderr
    assert "command not found" not in err, err
    # train --watch: one plain line a second while it runs, then the outcome.
    assert re.search(r"^(queued|running) epoch \d+/1000 loss", err, re.M), err
    assert re.search(r"^succeeded epoch 1000/1000 loss", err, re.M), err
    assert re.search(r"state\s+succeeded", out), out
    # predict: Emily with the seed's model, then every row of examples/people.tsv.
    assert re.search(r"^128\s+63\s+F\s+0\.952$", out, re.M), out
    assert re.search(r"^155\s+68\s+M\s+0\.048$", out, re.M), out
    assert len(re.findall(r"^\d+\s+\d+\s+[FM]\s+0\.\d{3}$", out, re.M)) == 1 + 6, out
    assert "promoted m-" in out and "it is now the latest model" in out
    # The cancelled job: cancel answers, watch ends with the state and exits 1 (the last line).
    assert "cancel requested for job" in out, out
    assert re.search(r"job \S+ cancelled", err), err
    assert run.returncode == 1, (out, err)
    assert not any(home.iterdir()), list(home.iterdir())  # the client writes nothing in HOME
    written = sorted(path.name for path in root.iterdir())
    assert written == [".venv", "examples", "people-10k.tsv"], written
    assert "wrote 10000 people (5000 female, 5000 male) to people-10k.tsv" in out, out


def test_the_api_writes_nothing_in_home(stack, tmp_path) -> None:
    """gunicorn 25+ would open a control socket under ~/.gunicorn/; nnservice turns it off."""
    home, store = tmp_path / "home", tmp_path / "store"
    home.mkdir()
    port = free_port()
    env = {
        **stack.env(),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "NNSERVICE_STORE": str(store),
        "NNSERVICE_METRICS_DIR": str(store / "metrics"),
    }
    migrated(Settings.from_env(env))  # as `nnservice db upgrade` would
    command = [sys.executable, "-m", "nnservice.cli", "api", "--host", "127.0.0.1"]
    api = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the API did not answer /healthz within 60 s")
    finally:
        stop_process(api, 30)
    assert list(home.iterdir()) == []
