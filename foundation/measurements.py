"""The two measurements the network reads, defined once: their units, the factors between the
unit systems, and the physical bounds that keep typos and garbage out.

The network's input is `[weight (lb), height (in)]`; a request may give kilograms and centimetres
instead (`units: metric`), converted at the HTTP edge. The bounds are stated in pounds and inches;
the metric ones are converted from them, rounded to a few significant digits so that the numbers
the API documents and enforces stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The unit systems a request may use; the first is the network's own.
UNITS = ("imperial", "metric")
DEFAULT_UNITS = "imperial"


@dataclass(frozen=True)
class Measurement:
    """One input column: its name, its unit in each system and its accepted range."""

    name: str
    imperial_unit: str
    metric_unit: str
    #: Metric units in one imperial unit (exact, by the definitions of the pound and the inch).
    metric_per_imperial: float
    #: Lowest and highest accepted value, in the imperial unit.
    imperial_bounds: tuple[float, float]
    #: Significant digits of the metric bounds (converted from the imperial ones).
    metric_digits: int

    @property
    def metric_bounds(self) -> tuple[float, float]:
        """The imperial bounds in the metric unit, rounded to `metric_digits` significant digits."""
        low, high = (value * self.metric_per_imperial for value in self.imperial_bounds)
        return _significant(low, self.metric_digits), _significant(high, self.metric_digits)

    def bounds(self, units: str) -> tuple[float, float]:
        """Lowest and highest accepted value in `units` ("imperial" or "metric")."""
        return self.imperial_bounds if units == "imperial" else self.metric_bounds

    def unit(self, units: str) -> str:
        """The unit's symbol in `units` (lb or kg, in or cm)."""
        return self.imperial_unit if units == "imperial" else self.metric_unit


def _significant(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


WEIGHT = Measurement("weight", "lb", "kg", 0.45359237, (1.0, 1500.0), metric_digits=2)
HEIGHT = Measurement("height", "in", "cm", 2.54, (10.0, 120.0), metric_digits=4)
#: The network's input columns, in their order.
MEASUREMENTS = (WEIGHT, HEIGHT)
