"""`nnservice example-data`: a realistic, seeded data set of people, for a clone with no data.

It writes the layout of the classic weight-height file: a tab-separated header `Gender Height
Weight`, then one person a line (`Male`/`Female`, inches, pounds), half of each gender in a
shuffled order. The README's real-data walkthrough and the tests that need realistic rows use it.

The people are drawn from published population statistics of US adults (20 years and over):

- mean height and weight by sex: National Center for Health Statistics, NHANES 2015-2018
  (Fryar CD et al., "Anthropometric Reference Data for Children and Adults: United States,
  2015-2018", Vital and Health Statistics Series 3, No. 46, 2021; also CDC FastStats "Body
  Measurements"): men 69.0 in and 199.8 lb, women 63.5 in and 170.8 lb;
- the spreads and the within-sex correlation of height and weight are rounded approximations of
  what that survey reports, not quoted from one of its tables: height SD 2.9 in (men) and 2.7 in
  (women); weight log-normal (adult weight is right-skewed) with a coefficient of variation of
  about 0.22 (men) and 0.26 (women); correlation of height and log weight 0.45 (men) and 0.35
  (women).

Height and log weight are drawn as a bivariate normal per sex with the standard library's
`random` (no numpy, so the client stays light); a draw further than 4 standard deviations from
the mean is drawn again, so every person is plausible and within the service's limits. The two
sexes overlap as real people do: the best straight boundary gets about 83 % of held-out people
right (on the 10,000-person file the project was first tried on, whose sexes overlap less, 92 %).
"""

from __future__ import annotations

import csv
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import click

#: The header of the written file, in the classic weight-height file's order.
COLUMNS = ("Gender", "Height", "Weight")
#: Rows and seed when none are given.
DEFAULT_ROWS = 10_000
DEFAULT_SEED = 0
#: A draw further than this many standard deviations from its mean is drawn again.
MAX_DEVIATIONS = 4.0


@dataclass(frozen=True)
class Population:
    """Height (in) and weight (lb) of one sex: height normal, log weight normal, correlated."""

    gender: str
    height_mean: float
    height_sd: float
    weight_mean: float
    weight_log_sd: float
    correlation: float

    @property
    def log_weight_mean(self) -> float:
        """The mean of log weight that gives `weight_mean` as the log-normal's mean."""
        return math.log(self.weight_mean) - self.weight_log_sd**2 / 2


#: US adults, NHANES 2015-2018 (see the module's docstring for what comes from where).
MEN = Population("Male", 69.0, 2.9, 199.8, 0.22, 0.45)
WOMEN = Population("Female", 63.5, 2.7, 170.8, 0.26, 0.35)


def _standard_pair(rng: random.Random, correlation: float) -> tuple[float, float]:
    """Two standard normal draws with the given correlation, both within MAX_DEVIATIONS."""
    while True:
        first = rng.gauss(0.0, 1.0)
        second = correlation * first + math.sqrt(1 - correlation**2) * rng.gauss(0.0, 1.0)
        if abs(first) <= MAX_DEVIATIONS and abs(second) <= MAX_DEVIATIONS:
            return first, second


def draw_person(rng: random.Random, population: Population) -> tuple[float, float]:
    """One person of `population`: (height in inches, weight in pounds)."""
    height_z, weight_z = _standard_pair(rng, population.correlation)
    height = population.height_mean + population.height_sd * height_z
    weight = math.exp(population.log_weight_mean + population.weight_log_sd * weight_z)
    return height, weight


def generate_people(
    rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED
) -> Iterator[tuple[str, float, float]]:
    """`rows` people as (gender, height in, weight lb): half women (the odd one a man), in a
    shuffled order; the same `rows` and `seed` always give the same people."""
    rng = random.Random(seed)
    genders = [WOMEN] * (rows // 2) + [MEN] * (rows - rows // 2)
    rng.shuffle(genders)
    for population in genders:
        height, weight = draw_person(rng, population)
        yield population.gender, height, weight


def write_people(out: TextIO, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> None:
    """Write `rows` people (see `generate_people`) to `out` as tab-separated values."""
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    for gender, height, weight in generate_people(rows, seed):
        writer.writerow((gender, f"{height:.4f}", f"{weight:.4f}"))


@click.command("example-data")
@click.argument("out", metavar="OUT.tsv", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--rows",
    type=click.IntRange(min=2),
    default=DEFAULT_ROWS,
    show_default=True,
    help="People to write (half of each gender).",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Random seed.")
def example_data(out: str, rows: int, seed: int) -> None:
    """Write a realistic data set of ROWS people (Gender, Height in, Weight lb) to OUT.tsv.

    The people are drawn from published statistics of US adults (NHANES 2015-2018): heights and
    weights by gender with their correlation. The same --rows and --seed give the same file;
    '-' writes to stdout.
    """
    if out == "-":
        write_people(sys.stdout, rows, seed)
        return
    path = Path(out)
    with path.open("w", newline="", encoding="utf-8") as handle:
        write_people(handle, rows, seed)
    click.echo(f"wrote {rows} people ({rows // 2} female, {rows - rows // 2} male) to {path}")
