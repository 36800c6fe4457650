"""The objects the views share, built once per app by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from flask import current_app

from foundation.settings import Settings
from model_store import ModelStore
from service.event_tail import EventTail
from service.follower import Follower
from service.model_cache import ModelCache

EXTENSION = "nnservice"


@dataclass(frozen=True)
class Services:
    """Settings, the store, the Celery client (send/revoke/ping only), the model cache, the
    follower of job versions the job event streams share and the tail of registry events the
    `/events` streams share."""

    settings: Settings
    store: ModelStore
    celery: Celery
    models: ModelCache
    job_follower: Follower[str]
    event_tail: EventTail


def services() -> Services:
    """The current app's `Services`."""
    return current_app.extensions[EXTENSION]
