"""WSGI entry point for gunicorn: `gunicorn service.wsgi:app`.

Once the app is built, everything allocated so far (the imported libraries, the app, its schemas:
a few hundred thousand objects) is moved out of the garbage collector's view with `gc.freeze()`,
so the collections that requests trigger scan only what requests allocate. gunicorn imports this
module in each worker process (no preload), so each worker freezes its own heap.
"""

import gc

from service.app import create_app

app = create_app()
gc.collect()
gc.freeze()
