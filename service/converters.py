"""The URL converters `<id:...>`, `<model:...>` and `<alias:...>`.

`<id:...>`: a path segment that is not a valid store id is a 404 at routing. `<model:...>` is the
same but for `latest`, which names the latest model at GET /models/latest. `<alias:...>`: any
segment, documented as an alias name.

So `../`, `%2e%2e%2f`, absolute paths and NUL bytes never reach a view, let alone the file system.
"""

from __future__ import annotations

from werkzeug.routing import BaseConverter

from model_store.aliases import ALIAS_RULE
from model_store.ids import ID_PATTERN


class IdConverter(BaseConverter):
    """Matches `[A-Za-z0-9][A-Za-z0-9_-]{0,127}` (the store's id rule)."""

    regex = ID_PATTERN.pattern


class ModelIdConverter(IdConverter):
    """An id other than `latest`: DELETE /models/latest is then no route (405; the Allow header
    of /models/latest lists no DELETE), not the deletion of a model named "latest"."""

    regex = f"(?!latest(?![A-Za-z0-9_-])){IdConverter.regex}"


def id_parameter_schema(converter: IdConverter) -> dict:
    """OpenAPI schema of an `<id:...>` path parameter (for flask-smorest)."""
    return {"type": "string", "pattern": f"^{ID_PATTERN.pattern}$"}


class AliasConverter(BaseConverter):
    """Any one path segment, documented as an alias name: the view answers 400 naming the rule
    for one that is not (rather than routing's bare 404)."""


def alias_parameter_schema(converter: AliasConverter) -> dict:
    """OpenAPI schema of an `<alias:...>` path parameter (for flask-smorest)."""
    return {"type": "string", "pattern": ALIAS_RULE}
