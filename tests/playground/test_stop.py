"""Under a real ASGI server: the stream reaches the client as it comes, and Stop works.

When the client goes away (the page's Stop button aborts the fetch), the portal
stops reading upstream and saves what came in, marked stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from apps.playground.models import PlaygroundRun
from tests.servers import RecordedRequest, Reply

from .asgi_server import AsgiServer, session_cookie
from .conftest import form_data, parse_sse, target

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal() -> Iterator[AsgiServer]:
    with AsgiServer() as server:
        yield server


def _post(portal: AsgiServer, user, data):  # type: ignore[no-untyped-def]
    client = httpx.Client(base_url=portal.url, cookies=session_cookie(user), timeout=10)
    csrf = client.get("/playground/").cookies.get("csrftoken")
    return client, {**data, "csrfmiddlewaretoken": csrf}, csrf


def test_the_asgi_server_streams_events_as_they_come(
    portal, alice, local_endpoint, local_server
):
    local_server.chat_reply = "a b c d e f"
    local_server.chunk_delay = 0.1
    client, data, csrf = _post(portal, alice, form_data(target(local_endpoint)))

    arrivals: list[tuple[float, str]] = []
    started = time.perf_counter()
    with client.stream(
        "POST", "/playground/stream/", data=data, headers={"X-CSRFToken": csrf}
    ) as response:
        assert response.status_code == 200
        for chunk in response.iter_text():
            for kind, _ in parse_sse(chunk):
                arrivals.append((time.perf_counter() - started, kind))
    client.close()

    first_delta = next(t for t, kind in arrivals if kind == "delta")
    end = next(t for t, kind in arrivals if kind == "column")
    assert end - first_delta > 0.35  # the first words arrived while the rest was coming
    assert arrivals[-1][1] == "done"


def test_stopping_closes_upstream_and_saves_what_came_in(
    portal, alice, local_endpoint, local_server
):
    upstream_closed = threading.Event()
    sent: list[int] = []

    def slow(request: RecordedRequest) -> Reply:
        def chunks():
            try:
                for index in range(200):
                    sent.append(index)
                    text = f"word{index} "
                    yield (
                        b'data: {"choices": [{"index": 0, "delta": {"content": "%s"}}]}\n\n'
                        % text.encode()
                    )
                    time.sleep(0.05)
                yield b"data: [DONE]\n\n"
            finally:
                upstream_closed.set()

        return Reply(200, {"content-type": "text/event-stream"}, chunks=chunks())

    local_server.route("POST", "/v1/chat/completions", slow)
    client, data, csrf = _post(portal, alice, form_data(target(local_endpoint)))

    received = ""
    with client.stream(
        "POST", "/playground/stream/", data=data, headers={"X-CSRFToken": csrf}
    ) as response:
        for chunk in response.iter_text():
            received += chunk
            if received.count("event: delta") >= 3:
                break  # Stop: the client hangs up
    client.close()

    assert upstream_closed.wait(5), "the portal kept reading upstream"
    assert len(sent) < 100
    deadline = time.monotonic() + 5
    while not PlaygroundRun.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    run = PlaygroundRun.objects.get()
    assert run.stopped is True
    output = run.outputs.get()
    assert output.status == "stopped"
    assert output.text.startswith("word0 word1 word2")
