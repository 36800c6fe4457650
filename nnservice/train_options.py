"""The hyperparameter options of `nnservice train`, one per definition in
`foundation.hyperparameters`: the same ranges and choices the API checks (a value out of range is a
usage error before anything is uploaded) and the server's default in each option's help.

Each option's value arrives under the hyperparameter's name (`--hidden` as `hidden_layers`);
`given_hyperparameters` keeps those the user gave, so the server fills in the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click

from foundation.hyperparameters import BY_NAME, HYPERPARAMETERS, Hyperparameter, broken_rules


def parse_layer_sizes(values: Sequence[str]) -> list[int]:
    """`["4", "3"]` or `["4,3"]` -> `[4, 3]`; raises ValueError naming a part that is no integer."""
    sizes: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                sizes.append(int(part))
            except ValueError:
                raise ValueError(f"{part!r} is not a whole number") from None
    return sizes


def _value_type(definition: Hyperparameter) -> click.ParamType:
    """The click type that accepts exactly the values the API accepts for one value."""
    if definition.choices:
        return click.Choice(definition.choices)
    if definition.kind is int:
        return click.IntRange(definition.minimum, definition.maximum)
    if definition.kind is float:
        return click.FloatRange(
            definition.minimum, definition.maximum, min_open=definition.exclusive_minimum
        )
    raise TypeError(f"no command-line type for {definition.name} ({definition.kind.__name__})")


def _list_callback(definition: Hyperparameter) -> Callable[..., list[int]]:
    """Parse a repeated or comma-separated list option and check its length and each value."""
    item_type = _value_type(definition)
    fewest, most = definition.length or (0, 0)

    def parse(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> list[int]:
        try:
            sizes = parse_layer_sizes(values)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
        if sizes and not fewest <= len(sizes) <= most:
            raise click.BadParameter(
                f"give {fewest} to {most} values, not {len(sizes)}", ctx, param
            )
        return [item_type.convert(size, param, ctx) for size in sizes]

    return parse


def _server_default(definition: Hyperparameter) -> str:
    """` [server default: ...]` as the option would be written, or "" without a default."""
    default = definition.default
    if default is None:
        return ""
    if definition.kind is bool:
        shown = definition.option_name if default else f"no-{definition.option_name}"
    elif isinstance(default, tuple):
        shown = ",".join(str(value) for value in default)
    else:
        shown = definition.number_text(default) if definition.kind is not str else default
    return f" [server default: {shown}]"


def _option(definition: Hyperparameter) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The click option of one hyperparameter (its value under the hyperparameter's name)."""
    flag, name = f"--{definition.option_name}", definition.name
    if definition.kind is bool:
        text = f"{definition.help}.{_server_default(definition)}"
        return click.option(f"{flag}/--no-{definition.option_name}", name, default=None, help=text)
    if definition.length is not None:
        text = (
            f"{definition.description()} Repeat it or give a list, e.g. {flag} 4,3."
            f"{_server_default(definition)}"
        )
        return click.option(
            flag,
            name,
            multiple=True,
            metavar="N[,N...]",
            callback=_list_callback(definition),
            help=text,
        )
    text = f"{definition.help}.{_server_default(definition)}"
    return click.option(flag, name, type=_value_type(definition), default=None, help=text)


def hyperparameter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command one option per hyperparameter, in the definitions' order."""
    for definition in reversed(HYPERPARAMETERS):
        func = _option(definition)(func)
    return func


def given_hyperparameters(options: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters among a command's options that the user gave (by name); a usage
    error naming the option if they break a rule across hyperparameters (as the API would)."""
    given = {
        each.name: options[each.name]
        for each in HYPERPARAMETERS
        if options.get(each.name) not in (None, [], ())
    }
    for name, messages in broken_rules(given).items():
        hint = f"'--{BY_NAME[name].option_name}'"
        raise click.BadParameter(" ".join(messages), param_hint=hint)
    return given
