"""Celery task names: the only part of `worker` the API needs to send work."""

TRAIN_TASK = "nnservice.train"
#: A task that does nothing: each worker sends it to itself once it is ready (`worker.celery_app`).
WARM_TASK = "nnservice.warm"
