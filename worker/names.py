"""Celery task names: the only part of `worker` the API needs to send work."""

TRAIN_TASK = "nnservice.train"
#: Scores one chunk of a batch prediction: kwargs `batch_id` and `chunk`.
BATCH_CHUNK_TASK = "nnservice.batch_chunk"


def chunk_task_id(batch_id: str, chunk: int) -> str:
    """The Celery task id of a batch's chunk (the same for every send of it)."""
    return f"{batch_id}-{chunk}"
