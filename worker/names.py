"""Celery task names: the only part of `worker` the API needs to send work."""

TRAIN_TASK = "nnservice.train"
