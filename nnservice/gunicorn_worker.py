"""The API's gunicorn worker: gunicorn's gevent worker, answering the requests gunicorn refuses
itself in the API's error shape.

gunicorn documents custom worker classes (`worker_class`: "a Python path to a subclass of
gunicorn.workers.base.Worker"). `ApiWorker` changes no accept loop and no parsing; it overrides
four public methods of the gevent worker (`handle_exit`, SIGTERM, also ends every event stream
with `reconnect`: `service.follower.end_streams`):

- `handle_error` (called for a request line or headers gunicorn cannot parse or that are over
  its limits, a malformed chunked body, and anything else that escapes a request): it answers
  JSON in the API's error shape (`nnservice.gunicorn_refusals`) instead of gunicorn's HTML page,
  logs gunicorn's warning, writes the access line for every refusal (gunicorn writes none when
  the request line itself could not be read), and closes the connection gently: it stops
  writing, then reads and drops what the client still sends (up to `LINGER_BYTES` within
  `LINGER_SECONDS`). Without that, closing a socket with unread input (the rest of a 100 KB
  request line) resets the connection, and the client loses the answer, or never gets to read
  it because its own send fails. Nothing on this path raises: a client gone meanwhile is
  logged at debug level.
- `timeout_ctx`: a request's line and headers must still arrive within the keep-alive timeout,
  but the timeout raises `HeaderTimeout` instead of closing the connection silently, so that
  `handle_error` can answer it.
- `handle_request` notes that the connection has served a request. A connection that times out
  before its first request is complete gets `408`; one that times out after (an idle keep-alive
  connection, the normal end of one) is closed without an answer, as before: a `408` there
  could be read by the client as the answer to the request it sends next. A connection that
  waits for its next request when the worker stops is closed without an answer too (gunicorn
  would send it a 500).
"""

from __future__ import annotations

import contextlib
import socket
from datetime import datetime
from typing import Any

import gevent
from gevent.local import local
from gunicorn.workers.ggevent import GeventWorker

from nnservice.gunicorn_refusals import HeaderTimeout, Refusal, refusal_for

#: After a refusal, what the client still sends is read and dropped for at most this long ...
LINGER_SECONDS = 2.0
#: ... and at most this much (a client that keeps sending is then cut off).
LINGER_BYTES = 1 << 20
#: A refusal's answer must be written within this long (a client that reads nothing).
WRITE_SECONDS = 5.0


class RefusalAnswer:
    """The response object the access line is written with (gunicorn's own `Response` is for
    answers the app produced)."""

    def __init__(self, refusal: Refusal, sent: int) -> None:
        self.status = f"{refusal.code} {refusal.reason}"
        self.status_code = refusal.code
        self.sent = sent


def _end_streams() -> None:
    """`service.follower.end_streams`, imported here: the app's modules are loaded in the worker
    (which built the app), never in gunicorn's master, which imports this module."""
    from service.follower import end_streams

    end_streams()


class ApiWorker(GeventWorker):
    """gunicorn's gevent worker; the module docstring says what it changes."""

    def init_process(self) -> None:
        #: Per connection (one greenlet each): whether a request on it has been served.
        self.connection_state = local()
        super().init_process()

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: gunicorn's graceful stop, and every event stream ends with `reconnect` at
        once (in a greenlet, out of the signal handler, as gunicorn's gevent worker does with
        SIGUSR1), so that the stop waits for no stream and its clients go on elsewhere."""
        super().handle_exit(sig, frame)
        gevent.spawn(_end_streams)

    def timeout_ctx(self) -> gevent.Timeout:
        return gevent.Timeout(self.cfg.keepalive, HeaderTimeout(self.cfg.keepalive))

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        self.connection_state.served = True
        return super().handle_request(listener_name, req, sock, addr)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        try:
            self._refuse(req, client, addr or ("", -1), exc)
        except Exception:  # the connection closes after this whatever happened
            self.log.debug("a refused request could not be answered", exc_info=True)

    def _refuse(self, req: Any, client: Any, addr: tuple, exc: BaseException) -> None:
        started = datetime.now()
        if isinstance(exc, gevent.GreenletExit):  # the worker is stopping: nothing to answer
            self.log.debug("closing a connection from ip=%s: the worker stops", addr[0])
            return
        if isinstance(exc, HeaderTimeout) and getattr(self.connection_state, "served", False):
            self.log.debug("closing an idle keep-alive connection from ip=%s", addr[0])
            return
        refusal = refusal_for(exc, self.cfg)
        if isinstance(exc, HeaderTimeout):
            self.log.info("Request timeout from ip=%s: %s", addr[0], exc)
        elif refusal.client_error:
            self.log.warning("Invalid request from ip=%s: %s", addr[0], exc)
        else:
            self.log.error("Error handling request", exc_info=exc)
        answer = refusal.http_response()
        sent = 0
        with contextlib.suppress(OSError), gevent.Timeout(WRITE_SECONDS, False):
            client.sendall(answer)
            sent = len(answer)
        if req is None:  # a bad header: gunicorn hands the request over with its error
            req = getattr(exc, "req", None)
        environ = {
            "REQUEST_METHOD": getattr(req, "method", None),  # None: not read whole
            "PATH_INFO": getattr(req, "path", None),
            "REMOTE_ADDR": addr[0],
            "REMOTE_PORT": str(addr[1]),
        }
        self.log.access(RefusalAnswer(refusal, sent), req, environ, datetime.now() - started)
        if sent:
            _linger(client)


def _linger(client: Any) -> None:
    """Stop writing, then read and drop what the client still sends (bounded), so that closing
    the connection does not reset it before the client has read the answer."""
    with contextlib.suppress(OSError), gevent.Timeout(LINGER_SECONDS, False):
        client.shutdown(socket.SHUT_WR)
        left = LINGER_BYTES
        while left > 0:
            received = client.recv(min(left, 65536))
            if not received:
                return
            left -= len(received)
