"""The Celery side of nnservice: the app, the thin task and the plain training-job function."""
