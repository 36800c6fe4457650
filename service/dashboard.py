"""The web dashboard at `/`: one HTML page with ES modules and CSS from `service/static`.

No build step and no CDN: the page, its modules and the vendored chart library (uPlot, in
`static/vendor/`) ship inside the package. The page holds no data of its own; it calls the JSON
API from the browser (with the key the user pasted, when keys are configured), so the page and
its files are served without a key, like /docs. The few facts the modules share with the server
(page sizes, the final job states) come with the page, as data attributes of its body.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from foundation.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from foundation.states import TERMINAL_STATES
from service.context import services

blp = Blueprint("dashboard", __name__)


@blp.get("/")
def index() -> str:
    """The dashboard page; it asks for an API key only where the deployment has keys."""
    settings = services().settings
    return render_template(
        "dashboard.html",
        keys_configured=bool(settings.api_keys),
        public_reads=settings.public_reads,
        max_page=MAX_PAGE_SIZE,
        default_page=DEFAULT_PAGE_SIZE,
        final_states=" ".join(sorted(TERMINAL_STATES)),
    )
