"""Answering a page of a listing: the items, and the next page's `Link` and token headers."""

from __future__ import annotations

from flask import request, url_for

from model_store import Page


def page_response(page: Page) -> tuple[list[dict], int, dict[str, str]]:
    """(items, 200, headers) for a view: the headers name the next page, if there is one."""
    if page.next_token is None:
        return page.items, 200, {}
    arguments = {**request.args.to_dict(), "page_token": page.next_token}
    assert request.endpoint is not None
    next_url = url_for(request.endpoint, _external=True, **arguments)
    headers = {"Link": f'<{next_url}>; rel="next"', "X-Next-Page-Token": page.next_token}
    return page.items, 200, headers
