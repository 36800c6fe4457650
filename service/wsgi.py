"""WSGI entry point for gunicorn: `gunicorn service.wsgi:app`.

Once the app is built, everything allocated so far (the imported libraries, the app, its schemas:
a few hundred thousand objects) is moved out of the garbage collector's view with `gc.freeze()`,
so the collections that requests trigger scan only what requests allocate. gunicorn imports this
module in each worker process (no preload), so each worker freezes its own heap.

Before that, each process loads the model it serves (`ModelCache.load`), so that it can serve
through an outage of the store's database or object store that begins before its first request;
gunicorn's worker accepts connections only once this module is imported, so no request (not
even /readyz) reaches it before the model is loaded, and a load that fails because a part of
the store is unreachable is retried at each poll (`service.model_cache`). It also prepares its
task publishing (`service.training.warm_task_publishing`: Celery's lazy imports, the broker
connection, the queue), so that its first POST /train does not pay about 50 ms for it.
"""

import gc

from service.app import create_app
from service.context import EXTENSION
from service.training import warm_task_publishing

app = create_app()
app.extensions[EXTENSION].models.load()
warm_task_publishing(app.extensions[EXTENSION])
gc.collect()
gc.freeze()
