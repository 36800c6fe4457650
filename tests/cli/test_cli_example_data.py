"""`nnservice example-data`: realistic people by gender, seeded, in the weight-height layout."""

from __future__ import annotations

import csv
import io
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnservice.cli import main
from nnservice.example_data import MEN, WOMEN, Population


def read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def test_writes_the_rows_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "people.tsv"
    result = CliRunner().invoke(main, ["example-data", str(out), "--rows", "101", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote 101 people (50 female, 51 male) to {out}\n"
    text = out.read_text()
    assert text.splitlines()[0] == "Gender\tHeight\tWeight"
    rows = read(text)
    assert len(rows) == 101
    assert sum(row["Gender"] == "Female" for row in rows) == 50
    assert {row["Gender"] for row in rows} == {"Female", "Male"}


def test_the_same_seed_gives_the_same_file_and_another_seed_another() -> None:
    def stdout(*options: str) -> str:
        result = CliRunner().invoke(main, ["example-data", "-", *options])
        assert result.exit_code == 0, result.output
        return result.output

    assert stdout("--rows", "50") == stdout("--rows", "50", "--seed", "0")
    assert stdout("--rows", "50") != stdout("--rows", "50", "--seed", "1")
    assert len(read(stdout())) == 10_000  # the default


def test_fewer_than_two_rows_are_refused() -> None:
    result = CliRunner().invoke(main, ["example-data", "-", "--rows", "1"])
    assert result.exit_code == 2
    assert "--rows" in result.output


@pytest.mark.parametrize("population", [MEN, WOMEN], ids=["men", "women"])
def test_the_people_follow_their_statistics(population: Population) -> None:
    result = CliRunner().invoke(main, ["example-data", "-", "--rows", "20000", "--seed", "7"])
    rows = [row for row in read(result.output) if row["Gender"] == population.gender]
    heights = [float(row["Height"]) for row in rows]
    weights = [float(row["Weight"]) for row in rows]
    assert len(rows) == 10_000
    assert statistics.mean(heights) == pytest.approx(population.height_mean, abs=0.1)
    assert statistics.stdev(heights) == pytest.approx(population.height_sd, rel=0.05)
    assert statistics.mean(weights) == pytest.approx(population.weight_mean, rel=0.01)
    cv = statistics.stdev(weights) / statistics.mean(weights)
    assert cv == pytest.approx(population.weight_log_sd, rel=0.1)  # log-normal: cv ~ log sd
    assert statistics.correlation(heights, weights) == pytest.approx(
        population.correlation, abs=0.04
    )
    # Plausible people, inside the service's limits (10-120 in, 1-1500 lb).
    assert min(heights) > 48 and max(heights) < 84
    assert min(weights) > 50 and max(weights) < 600


def test_the_module_needs_no_numpy() -> None:
    """The command belongs to the client: it must not load numpy."""
    check = "import sys, nnservice.example_data; print('numpy' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert answer.stdout.strip() == "False", answer.stderr
