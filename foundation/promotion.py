"""The words of promotion that the API, the store, the worker and the CLI share."""

from __future__ import annotations

#: The alias a training job moves unless it names another (what /predict serves by default).
DEFAULT_ALIAS = "latest"
#: The `promote` value that promotes a job's model only if it beats the alias's current one.
IF_BETTER = "if_better"
#: The name rule of an alias.
ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
