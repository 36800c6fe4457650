"""The compose stack cannot run here (no Docker engine), so check it against the code it starts.

Each command in docker-compose.yml and the Dockerfile must parse with the real `nnservice` CLI, and
each environment variable it sets must be one that `nnservice.config.Settings.from_env` reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml

from nnservice.cli import main
from nnservice.config import ENVIRONMENT_VARIABLES, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def parse_cli(argv: list[str]) -> click.Context:
    """Parse `argv` (no program name) with the real CLI; raises click.UsageError if invalid."""
    name, *rest = argv
    command = main.commands[name]
    return command.make_context(name, list(rest))


def test_compose_has_the_three_services() -> None:
    assert set(SERVICES) == {"redis", "api", "worker"}


@pytest.mark.parametrize("service", ["api", "worker"])
def test_compose_commands_are_accepted_by_the_cli(service: str) -> None:
    command = SERVICES[service]["command"]
    assert command[0] == "nnservice"
    ctx = parse_cli(command[1:])
    assert ctx.command.name == service


def test_cli_rejects_an_unknown_option() -> None:
    """The check above can fail: an option the CLI does not know is refused."""
    with pytest.raises(click.UsageError):
        parse_cli(["api", "--no-such-option"])


@pytest.mark.parametrize("service", ["api", "worker"])
def test_compose_environment_is_read_by_settings(service: str) -> None:
    environment = SERVICES[service]["environment"]
    unknown = set(environment) - ENVIRONMENT_VARIABLES
    assert not unknown, f"{service} sets variables nnservice never reads: {sorted(unknown)}"
    settings = Settings.from_env({k: str(v) for k, v in environment.items()})
    assert str(settings.store_path) == environment["NNSERVICE_STORE"]
    assert settings.redis_url == environment["REDIS_URL"]


def test_every_settings_variable_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in ENVIRONMENT_VARIABLES if name not in readme)
    assert not missing, f"README does not document {missing}"


def test_api_and_worker_share_one_named_volume_for_the_store() -> None:
    api_volumes = SERVICES["api"]["volumes"]
    worker_volumes = SERVICES["worker"]["volumes"]
    store_mount = "store:" + SERVICES["api"]["environment"]["NNSERVICE_STORE"]
    assert store_mount in api_volumes
    assert store_mount in worker_volumes
    assert "store" in COMPOSE["volumes"]


def test_redis_is_persistent_healthy_and_not_published() -> None:
    redis = SERVICES["redis"]
    assert "--appendonly" in redis["command"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert "healthcheck" in redis
    assert "ports" not in redis, "Redis must not be published to the host"
    for service in ("api", "worker"):
        assert SERVICES[service]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert SERVICES[service]["environment"]["REDIS_URL"].startswith("redis://redis:")


def test_containers_run_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    for service in ("api", "worker"):
        uid = str(SERVICES[service]["user"]).split(":")[0]
        assert uid not in ("root", "0")


def test_dockerfile_default_command_is_accepted_by_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD\s+(\[.*\])", dockerfile, flags=re.MULTILINE)
    assert cmd is not None
    argv = yaml.safe_load(cmd.group(1))
    assert argv[0] == "nnservice"
    parse_cli(argv[1:])
