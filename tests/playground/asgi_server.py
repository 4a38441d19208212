"""The portal's ASGI application under a real uvicorn, on loopback, in a thread.

pytest-django's ``live_server`` is WSGI, which cannot stream from async views; this
runs ``portal.asgi`` as ``make run`` does. It shares the test database (SQLite's
in-memory test database is shared between threads), so use it with
``transactional_db``. Static files are served as ``runserver`` would.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.test import Client


class AsgiServer:
    def __init__(self) -> None:
        from portal.asgi import application

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            ASGIStaticFilesHandler(application),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AsgiServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def session_cookie(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Cookies of a signed-in session for ``user`` (for httpx or a browser)."""
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}
