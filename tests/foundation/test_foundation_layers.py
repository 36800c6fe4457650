"""The layers hold: every package is in the import contract, the API process carries no training
runtime, and the HTTP client loads neither SQLAlchemy nor numpy."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> tuple[dict, list[dict]]:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return config, config["contracts"]


def _loaded_after(statement: str, modules: list[str]) -> list[str]:
    """Which of `modules` a fresh interpreter holds after running `statement`."""
    probe = f"import sys\n{statement}\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return run.stdout.split()


def test_every_package_is_in_a_layer() -> None:
    config, contracts = _contracts()
    packages = sorted(
        path.parent.name
        for path in REPO_ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench"}
    )
    layers = next(contract for contract in contracts if contract["type"] == "layers")
    assert sorted(layers["layers"]) == packages
    assert sorted(config["root_packages"]) == packages
    assert layers["layers"][-1] == "foundation"  # the ground floor is the bottom layer
    acyclic = next(contract for contract in contracts if contract["type"] == "acyclic_siblings")
    assert sorted(acyclic["ancestors"]) == packages


def test_the_import_contracts_pass() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip(f"lint-imports is not installed beside {sys.executable} (the test extras)")
    run = subprocess.run([str(lint)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert " 0 broken" in run.stdout, run.stdout


def test_the_api_carries_no_training_runtime() -> None:
    runtime = ["worker.reaper", "worker.training_job", "worker.celery_app", "neural.training"]
    assert _loaded_after("import service.app", [*runtime, "numba"]) == []
    # The worker's app does load them: the probe can see a module when it is there.
    assert "worker.reaper" in _loaded_after("import worker.celery_app", runtime)


def test_the_http_client_loads_neither_sqlalchemy_nor_numpy() -> None:
    assert _loaded_after("import nnservice.client", ["sqlalchemy", "numpy"]) == []
    assert _loaded_after("import nnservice.client_commands", ["sqlalchemy", "numpy"]) == []
