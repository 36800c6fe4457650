"""The compose stack cannot run here (no Docker engine), so check it against the code it starts.

Each command in docker-compose.yml and the Dockerfile must parse with the real `nnservice` CLI, and
each environment variable it sets must be one that `foundation.settings.Settings.from_env` reads (or
one of boto3's standard variables, which reach the object store). The API is published on the
loopback only unless the user says otherwise, and takes its keys from the user's shell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import click
import pytest
import yaml

from foundation.settings import ENVIRONMENT_VARIABLES, Settings
from nnservice.cli import main

#: boto3's own variables, which point the object store at an S3-compatible server.
AWS_VARIABLES = frozenset(
    {"AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def interpolate(value: str, shell: Mapping[str, str]) -> str:
    """Docker Compose's `${NAME}` and `${NAME:-default}` in `value`, `shell` being the variables
    of the shell that runs `docker compose` (`:-` takes the default when unset or empty)."""

    def one(match: re.Match) -> str:
        return shell.get(match.group(1)) or match.group(2) or ""

    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", one, value)


def compose_environment(service: str, shell: Mapping[str, str]) -> dict[str, str]:
    """The environment `service` gets when `docker compose` runs in a shell with `shell`."""
    return {k: interpolate(str(v), shell) for k, v in SERVICES[service]["environment"].items()}


def parse_cli(argv: list[str]) -> click.Context:
    """Parse `argv` (no program name) with the real CLI, descending into groups (`db upgrade`);
    raises click.UsageError if invalid."""
    name, *rest = argv
    command = main.commands[name]
    while isinstance(command, click.Group) and rest:
        name, *rest = rest
        command = command.get_command(click.Context(command), name)
        if command is None:
            raise click.UsageError(f"no such command {name!r}")
    return command.make_context(name, list(rest))


def test_compose_has_the_broker_the_database_the_object_store_and_the_service() -> None:
    assert set(SERVICES) == {
        "redis",
        "postgres",
        "minio",
        "createbuckets",
        "migrate",
        "api",
        "worker",
    }


@pytest.mark.parametrize(
    ("service", "name"), [("api", "api"), ("worker", "worker"), ("migrate", "upgrade")]
)
def test_compose_commands_are_accepted_by_the_cli(service: str, name: str) -> None:
    command = SERVICES[service]["command"]
    assert command[0] == "nnservice"
    ctx = parse_cli(command[1:])
    assert ctx.command.name == name


def test_cli_rejects_an_unknown_option() -> None:
    """The check above can fail: an option the CLI does not know is refused."""
    with pytest.raises(click.UsageError):
        parse_cli(["api", "--no-such-option"])


@pytest.mark.parametrize("service", ["api", "worker", "migrate"])
def test_compose_environment_is_read_by_settings(service: str) -> None:
    environment = SERVICES[service]["environment"]
    unknown = set(environment) - ENVIRONMENT_VARIABLES - AWS_VARIABLES
    assert not unknown, f"{service} sets variables nnservice never reads: {sorted(unknown)}"
    settings = Settings.from_env(compose_environment(service, {}))
    assert settings.store_database_url == environment["NNSERVICE_DATABASE_URL"]
    assert settings.store_database_url.startswith("postgresql+psycopg://")
    assert "@postgres:" in settings.store_database_url
    assert settings.store_objects == environment["NNSERVICE_OBJECT_STORE"]
    assert environment["AWS_ENDPOINT_URL_S3"].startswith("http://minio:")
    if service != "migrate":
        assert str(settings.store_path) == environment["NNSERVICE_STORE"]
        assert settings.redis_url == environment["REDIS_URL"]


def test_the_object_stores_bucket_is_the_one_createbuckets_makes() -> None:
    bucket = SERVICES["api"]["environment"]["NNSERVICE_OBJECT_STORE"].split("/")[2]
    assert f"store/{bucket}" in " ".join(SERVICES["createbuckets"]["command"])


def test_the_configuration_table_lists_exactly_the_settings_variables() -> None:
    """docs/configuration.md's table of the service's variables, against what Settings reads."""
    guide = (ROOT / "docs/configuration.md").read_text()
    service = guide[guide.index("## The service") : guide.index("## The command-line client")]
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", service, flags=re.MULTILINE))
    assert documented == ENVIRONMENT_VARIABLES, (
        f"missing: {sorted(ENVIRONMENT_VARIABLES - documented)}, "
        f"not read by Settings: {sorted(documented - ENVIRONMENT_VARIABLES)}"
    )


def test_the_api_is_published_on_this_machine_only_unless_told() -> None:
    (published,) = SERVICES["api"]["ports"]
    assert interpolate(published, {}) == "127.0.0.1:8000:8000"
    assert interpolate(published, {"NNSERVICE_PUBLISH": "0.0.0.0"}) == "0.0.0.0:8000:8000"
    assert [name for name in SERVICES if "ports" in SERVICES[name]] == ["api"]


def test_the_api_keys_come_from_the_shell() -> None:
    assert Settings.from_env(compose_environment("api", {})).api_keys == ()
    shell = {"NNSERVICE_API_KEYS": "key-one,key-two"}
    assert Settings.from_env(compose_environment("api", shell)).api_keys == ("key-one", "key-two")


def test_the_compose_file_and_the_deployment_guide_say_what_is_exposed() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    guide = (ROOT / "docs/deployment.md").read_text()
    for text in (compose, guide):
        assert "127.0.0.1" in text and "NNSERVICE_PUBLISH" in text and "NNSERVICE_API_KEYS" in text


def test_api_and_worker_share_no_volume_and_start_after_the_store_is_ready() -> None:
    for service in ("api", "worker"):
        assert "volumes" not in SERVICES[service], f"{service} must keep nothing on a volume"
        ready = SERVICES[service]["depends_on"]
        assert ready["postgres"]["condition"] == "service_healthy"
        assert ready["migrate"]["condition"] == "service_completed_successfully"
        assert ready["createbuckets"]["condition"] == "service_completed_successfully"
    assert "store" not in COMPOSE.get("volumes", {})


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
