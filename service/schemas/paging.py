"""Query parameters of the paged listings (GET /jobs, /models, /datasets) and their headers."""

from __future__ import annotations

import marshmallow as ma

from foundation.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from foundation.states import STATES, SWEEP_STATES
from service.schemas.fields import IdField

#: Documented response headers of a paged listing.
PAGE_HEADERS = {
    "Link": {
        "description": 'The next page, as `<url>; rel="next"`; absent on the last page.',
        "schema": {"type": "string"},
    },
    "X-Next-Page-Token": {
        "description": "The next page's `page_token`; absent on the last page.",
        "schema": {"type": "string"},
    },
}


class PageQuerySchema(ma.Schema):
    """`limit` and `page_token`, common to every listing."""

    limit = ma.fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=ma.validate.Range(1, MAX_PAGE_SIZE),
        metadata={"description": "Items per page, newest first."},
    )
    page_token = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=512),
        metadata={"description": "From the previous page's X-Next-Page-Token (or Link) header."},
    )


class JobListQuerySchema(PageQuerySchema):
    state = ma.fields.String(load_default=None, validate=ma.validate.OneOf(STATES))
    dataset_id = IdField(load_default=None)


class ModelListQuerySchema(PageQuerySchema):
    dataset_id = IdField(load_default=None)


class DatasetListQuerySchema(PageQuerySchema):
    pass


class SweepListQuerySchema(PageQuerySchema):
    state = ma.fields.String(load_default=None, validate=ma.validate.OneOf(SWEEP_STATES))
