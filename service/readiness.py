"""GET /readyz: can this deployment take training jobs, and this process serve, right now?

Four parts, each checked for real: Redis answers a PING, at least one Celery worker answers a
control ping within about a second, the store accepts a small write, and this process has loaded
the model it serves (it loads it at start; while the store's database or object store is
unreachable it cannot, and this part names the unreachable one; a deployment with no model
promoted yet has nothing to load). Predict needs none of the first two, which is why /healthz and
/readyz are separate.
"""

from __future__ import annotations

import redis

from model_store import ModelStore
from model_store.errors import StoreWriteError
from service.context import Services
from service.model_cache import ModelCache


def _redis_problem(url: str | None, timeout: float) -> str | None:
    if not url:
        return "REDIS_URL is not set"
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"Redis does not answer PING: {exc}"
    finally:
        client.close()
    return None


def _worker_problem(svc: Services, timeout: float) -> str | None:
    try:
        replies = svc.celery.control.ping(timeout=timeout, limit=1)
    except Exception as exc:  # any broker failure means no worker can be reached
        return f"could not ping workers: {exc}"
    if not replies:
        return f"no Celery worker answered a ping within {timeout:g} s"
    return None


def _store_problem(store: ModelStore) -> str | None:
    try:
        store.check_writable()
    except StoreWriteError as exc:
        return f"the store is not writable: {exc}"
    return None


def _model_problem(models: ModelCache) -> str | None:
    try:
        outage = models.outage()
    except Exception as exc:  # noqa: BLE001 - whatever keeps the model from loading: say so
        return f"the model this process serves cannot be loaded: {exc}"
    if outage is None:
        return None
    return f"the model this process serves is not loaded yet: {outage}"


def readiness_problems(svc: Services, timeout: float = 1.0) -> dict[str, list[str]]:
    """Each part that is not ready -> why; an empty dict means ready."""
    problems: dict[str, list[str]] = {}
    redis_problem = _redis_problem(svc.settings.redis_url, timeout)
    if redis_problem:
        problems["redis"] = [redis_problem]
        problems["workers"] = ["not checked: the broker is unreachable"]
    else:
        worker_problem = _worker_problem(svc, timeout)
        if worker_problem:
            problems["workers"] = [worker_problem]
    store_problem = _store_problem(svc.store)
    if store_problem:
        problems["store"] = [store_problem]
    model_problem = _model_problem(svc.models)
    if model_problem:
        problems["model"] = [model_problem]
    return problems
