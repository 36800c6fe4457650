"""Data shared by the integration tests: the seed's people, from docs/seed_walkthrough.json."""

from __future__ import annotations

import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_TSV = REPO_ROOT.parent / "shared/data/weight-height.tsv"
WALKTHROUGH = json.loads((REPO_ROOT / "docs/seed_walkthrough.json").read_text())
#: Alice, Bob, Charlie and Diana.
SEED_ROWS: list[dict] = WALKTHROUGH["upload"]["rows"]
EMILY, FRANK = WALKTHROUGH["predict"]["instances"]
