# One image for the API and the worker; docker-compose.yml chooses the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NNSERVICE_STORE=/data/store \
    NUMBA_CACHE_DIR=/home/nnservice/.cache/numba

# An unprivileged user owns the store; nothing runs as root.
RUN groupadd --system --gid 10001 nnservice \
    && useradd --system --uid 10001 --gid nnservice --create-home nnservice \
    && mkdir -p /data/store \
    && chown nnservice:nnservice /data/store

WORKDIR /app
COPY pyproject.toml README.md ./
COPY neural ./neural
COPY model_store ./model_store
COPY worker ./worker
COPY service ./service
COPY nnservice ./nnservice
RUN pip install .

USER nnservice
# Fill numba's on-disk cache (NUMBA_CACHE_DIR) with the training kernels for every network
# depth the API accepts, as the runtime user, so a fresh container's worker loads them
# instead of compiling them at start (-P: the installed package, whose path keys the cache, not
# the sources in /app; numba recompiles if the host's CPU differs).
RUN python -P -c "import neural; neural.warm_up(hidden_layers=(1, 2, 3, 4))"
EXPOSE 8000
CMD ["nnservice", "api", "--host", "0.0.0.0", "--port", "8000"]
