"""The client's own logic, with no service running: reading data files, option parsing, errors.

Everything that talks to a service is in test_cli_against_stack.py; here the only network call is
to a port where nothing listens, to check the message a user gets when the service is down.
"""

from __future__ import annotations

import socket
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nnservice.client import ApiError, content_type_for
from nnservice.client_commands import ApiFailure, read_feature_rows, register
from nnservice.train_options import parse_layer_sizes


@pytest.fixture(scope="module")
def cli() -> click.Group:
    """A group holding only the client commands, as `nnservice/cli.py` registers them."""

    @click.group()
    def group() -> None:
        """Client commands under test."""

    register(group)
    return group


@pytest.fixture
def closed_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port just bound and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_feature_rows_read_any_case_and_column_order_from_tsv(tmp_path: Path) -> None:
    data = tmp_path / "people.tsv"
    data.write_text("Gender\tHEIGHT\tWeight\nF\t63\t128\nM\t68\t155\n\n")
    assert read_feature_rows(data) == [
        {"weight": 128.0, "height": 63.0},
        {"weight": 155.0, "height": 68.0},
    ]


def test_feature_rows_read_csv_with_byte_order_mark(tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    data.write_bytes("\ufeffweight,height\n128.5, 63\n".encode())
    assert read_feature_rows(data) == [{"weight": 128.5, "height": 63.0}]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("weight,gender\n128,F\n", "no height column"),
        ("mass,size\n128,63\n", "no weight and no height column"),
        ("weight,height\n128,tall\n", "line 2"),
        ("weight,height\n", "no data rows"),
    ],
)
def test_bad_feature_files_are_usage_errors_naming_the_problem(
    tmp_path: Path, text: str, complaint: str
) -> None:
    data = tmp_path / "people.csv"
    data.write_text(text)
    with pytest.raises(click.BadParameter, match=complaint):
        read_feature_rows(data)


def test_layer_sizes_come_repeated_or_as_comma_lists() -> None:
    assert parse_layer_sizes(["4", "3"]) == [4, 3]
    assert parse_layer_sizes(["4,3", " 2 "]) == [4, 3, 2]
    assert parse_layer_sizes([]) == []
    with pytest.raises(ValueError, match="'x' is not a whole number"):
        parse_layer_sizes(["4,x"])


def test_upload_content_type_follows_the_extension() -> None:
    assert content_type_for("a/b/weight-height.TSV") == "text/tab-separated-values"
    assert content_type_for("people.csv") == "text/csv"
    assert content_type_for("people.txt") == "text/csv"


def test_api_error_flattens_nested_field_errors() -> None:
    error = ApiError(
        422,
        "invalid",
        {"instances": {"17": {"weight": ["must be positive"]}}, "_schema": ["empty body"]},
    )
    assert error.field_errors() == [
        ("instances.17.weight", "must be positive"),
        ("(body)", "empty body"),
    ]
    assert ApiError(404, "not found").field_errors() == []


def test_a_field_error_that_repeats_the_message_is_shown_once() -> None:
    error = ApiError(404, "job 'x' not found", {"job_id": ["job 'x' not found"]})
    assert ApiFailure(error).format_message() == "job 'x' not found (HTTP 404)"
    error = ApiError(422, "invalid epochs", {"epochs": ["Must be at least 1."]})
    assert ApiFailure(error).format_message() == (
        "invalid epochs (HTTP 422)\n  epochs: Must be at least 1."
    )


def test_a_service_that_is_down_is_named_in_the_error(cli: click.Group, closed_url: str) -> None:
    result = CliRunner().invoke(cli, ["models", "--url", closed_url])
    assert result.exit_code == 1
    assert f"cannot reach nnservice at {closed_url} (connection refused)" in result.stderr
    assert result.stdout == ""


def test_the_url_comes_from_nnservice_url(cli: click.Group, closed_url: str) -> None:
    result = CliRunner().invoke(cli, ["jobs", "--json"], env={"NNSERVICE_URL": closed_url})
    assert result.exit_code == 1
    assert closed_url in result.stderr


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["predict"], "give --weight and --height, or a FILE"),
        (["predict", "--weight", "128"], "give --weight and --height, or a FILE"),
        (["predict", "--weight", "heavy", "--height", "63"], "'heavy' is not a valid float"),
        (["train", "missing.csv"], "does not exist"),
        (["train", "--hidden", "2,two", "{file}"], "'two' is not a whole number"),
        (["train", "--loss", "hinge", "{file}"], "'hinge' is not one of"),
        (["predict", "{file}", "--weight", "128"], "not both"),
        (
            ["train", "--early-stopping-patience", "5", "{file}"],
            "Invalid value for '--early-stopping-patience': Early stopping watches the "
            "validation loss: it needs validation_fraction above 0.",
        ),
        (
            ["train", "--early-stopping-min-delta", "-1", "{file}"],
            "-1.0 is not in the range 0.0<=x<=1.0",
        ),
    ],
)
def test_usage_errors_exit_2_before_any_request(
    cli: click.Group, closed_url: str, tmp_path: Path, args: list[str], complaint: str
) -> None:
    data = tmp_path / "people.csv"
    data.write_text("weight,height,gender\n133,65,F\n")
    argv = [arg.replace("{file}", str(data)) for arg in args] + ["--url", closed_url]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert complaint in result.stderr
