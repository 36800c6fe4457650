"""The API's own entry point: `python -m nnservice.api_main --host H --port P`.

`nnservice api` (and so `nnservice up`, docker-compose and the tests) runs the API through this
module. The API serves with gunicorn's gevent workers, and gevent must patch the standard library
before anything imports `ssl` or `urllib3` (botocore builds SSL contexts; patched later, an S3
client in a worker fails with RecursionError). So the patch is the first thing this module does,
as gevent and gunicorn advise: patch as early as possible in the main module. No other process
(the CLI's client commands, the worker, the supervisor) is patched.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 - after the patch above, on purpose

from foundation.settings import Settings  # noqa: E402
from nnservice.gunicorn_conf import serve  # noqa: E402
from nnservice.store_commands import require_current_schema  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Serve the API on --host/--port with the environment's settings, in the foreground."""
    parser = argparse.ArgumentParser(prog="nnservice api", description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    arguments = parser.parse_args(argv)
    settings = Settings.from_env()
    require_current_schema(settings, unreachable_ok=True)
    serve(settings, arguments.host, arguments.port)


if __name__ == "__main__":
    main()
