"""`nnservice alias set|get|list|history|rollback|rm`: the names /predict serves models by."""

from __future__ import annotations

from typing import Any

import click

from nnservice.client_commands import Session, add_plain_row, api_command, plain_table, when_text


def _parse_split(text: str) -> dict[str, int]:
    """`m-a=90,m-b=10` -> {"m-a": 90, "m-b": 10}; a UsageError names a bad member."""
    split: dict[str, int] = {}
    for part in text.split(","):
        model_id, equals, weight = part.strip().partition("=")
        if not equals or not model_id or not weight.strip().isdigit():
            raise click.UsageError(f"--split: {part!r} is not MODEL_ID=WEIGHT")
        split[model_id.strip()] = int(weight)
    return split


def _names(alias: dict) -> str:
    """What an alias names: `m-a` or `m-a=90,m-b=10`, or `(removed)`."""
    if alias.get("split"):
        return ",".join(f"{m['model_id']}={m['weight']}" for m in alias["split"])
    return alias.get("model_id") or "(removed)"


def _show(session: Session, answer: Any, verb: str) -> None:
    if session.as_json:
        session.emit_json(answer)
    else:
        click.echo(f"alias {answer['name']} {verb} {_names(answer)}")


@click.group()
def alias() -> None:
    """Aliases: names that point at a model or a weighted split (`latest` is /predict's)."""


@alias.command("set")
@click.argument("name")
@click.argument("model_id", metavar="MODEL_ID", required=False)
@click.option("--split", help="A weighted split instead of one model: m-a=90,m-b=10.")
@api_command
def set_alias(session: Session, name: str, model_id: str | None, split: str | None) -> None:
    """Point alias NAME at MODEL_ID (or --split); every API process serves it within a second."""
    if (model_id is None) == (split is None):
        raise click.UsageError("give either MODEL_ID or --split, exactly one")
    members = _parse_split(split) if split else None
    _show(session, session.client.set_alias(name, model_id, members), "now names")


@alias.command("get")
@click.argument("name")
@api_command
def get_alias(session: Session, name: str) -> None:
    """Show what alias NAME names."""
    _show(session, session.client.get_alias(name), "names")


@alias.command("list")
@api_command
def list_aliases(session: Session) -> None:
    """List the aliases set now."""
    found = session.client.list_aliases()
    if session.as_json:
        session.emit_json(found)
        return
    table = plain_table("alias", "names", "changed", "by")
    for item in found:
        add_plain_row(
            table, item["name"], _names(item), when_text(item["changed_at"]), item["changed_by"]
        )
    session.print_table(table)


@alias.command("history")
@click.argument("name")
@api_command
def history(session: Session, name: str) -> None:
    """Every change of alias NAME, newest first, and who made it."""
    changes = session.client.alias_history(name)
    if session.as_json:
        session.emit_json(changes)
        return
    table = plain_table("changed", "names", "by")
    for item in changes:
        add_plain_row(table, when_text(item["changed_at"]), _names(item), item["changed_by"])
    session.print_table(table)


@alias.command("rollback")
@click.argument("name")
@api_command
def rollback(session: Session, name: str) -> None:
    """Move alias NAME back to what it named before its last change."""
    changes = session.client.alias_history(name)
    current = _names(changes[0])
    for item in changes[1:]:
        if item.get("model_id") and _names(item) != current:
            split = {m["model_id"]: m["weight"] for m in item["split"]} if item["split"] else None
            answer = session.client.set_alias(name, item["model_id"], split)
            _show(session, answer, "rolled back to")
            return
    raise click.ClickException(f"alias {name} has named nothing else before")


@alias.command("rm")
@click.argument("name")
@api_command
def remove(session: Session, name: str) -> None:
    """Remove alias NAME (its history stays; `latest` cannot be removed)."""
    session.client.remove_alias(name)
    if session.as_json:
        session.emit_json({"name": name, "removed": True})
    else:
        click.echo(f"alias {name} removed")
