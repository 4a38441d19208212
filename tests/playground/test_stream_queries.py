"""Under a real ASGI server: what one playground stream costs the database.

Every query the portal runs (in any thread) is logged with the moment the client
saw its first token, so the test tells the queries before the first token from
those after. The count is the same whether the endpoint served 1 or 50 runs
that day, and the run's usage reaches the ledger once, after the stream closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from django.db.backends.utils import CursorWrapper
from django.db.models import Sum

from apps.endpoints.models import DailyUsage, PortalCall, UsageSample
from apps.endpoints.services import metering
from apps.playground.models import RunOutput
from tests.factories import UseCaseFactory
from tests.servers import FakeServer, RecordedRequest, Reply

from .asgi_server import AsgiServer, session_cookie
from .conftest import flush_usage, form_data, target

pytestmark = pytest.mark.django_db(transaction=True)

FIRST_TOKEN = "-- the client saw its first token"
CLOSED = "-- the stream closed"


@pytest.fixture(autouse=True)
def _many_runs(settings):  # type: ignore[no-untyped-def]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "playground": "1000/minute",
        },
    }


@pytest.fixture
def portal() -> Iterator[AsgiServer]:
    with AsgiServer() as server:
        yield server


class QueryLog:
    """Every SQL statement any thread runs, in order, with the client's marks."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[str] = []
        self.on = False

    def mark(self, text: str) -> None:
        with self.lock:
            self.entries.append(text)

    def between(self, start: str | None, end: str) -> list[str]:
        begin = self.entries.index(start) + 1 if start else 0
        # Transaction control is left out: SQLite sends BEGIN, PostgreSQL not.
        return [
            e
            for e in self.entries[begin : self.entries.index(end)]
            if not e.startswith(("-- ", "BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT"))
        ]


@pytest.fixture
def queries(monkeypatch) -> QueryLog:  # type: ignore[no-untyped-def]
    log = QueryLog()
    original = CursorWrapper._execute_with_wrappers

    def logged(self, sql, params, many, executor):  # type: ignore[no-untyped-def]
        if log.on:
            log.mark(sql)
        return original(self, sql, params, many, executor)

    monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", logged)
    return log


def hold_after_the_first_word(server: FakeServer) -> threading.Event:
    """The model server's answers wait after their first word until the returned
    event is set, so the test knows what the portal did before the first token."""
    release = threading.Event()
    release.set()

    def handler(request: RecordedRequest) -> Reply:
        reply = server._chat(request)
        assert reply.chunks is not None

        def chunks() -> Iterator[bytes]:
            held = False
            for chunk in reply.chunks:
                yield chunk
                if (
                    not held
                    and b'"content": "' in chunk
                    and b'"content": ""' not in chunk
                ):
                    held = True
                    assert release.wait(10)

        return Reply(reply.status, reply.headers, chunks=chunks())

    server.route("POST", "/v1/chat/completions", handler)
    return release


class Session:
    """A signed-in browser: cookies and the CSRF token, read once."""

    def __init__(self, portal: AsgiServer, user) -> None:  # type: ignore[no-untyped-def]
        self.client = httpx.Client(
            base_url=portal.url, cookies=session_cookie(user), timeout=10
        )
        self.csrf = self.client.get("/playground/").cookies["csrftoken"]

    def stream(self, data, log=None, release=None) -> list[str]:  # type: ignore[no-untyped-def]
        kinds = []
        with self.client.stream(
            "POST",
            "/playground/stream/",
            data={**data, "csrfmiddlewaretoken": self.csrf},
            headers={"X-CSRFToken": self.csrf},
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kinds.append(line[7:])
                    if log is not None and kinds == ["start", "delta"]:
                        log.mark(FIRST_TOKEN)
                        release.set()  # the model server goes on
        if log is not None:
            log.mark(CLOSED)
        return kinds


def wait_until_spooled(lines: int) -> None:
    """Django closes a response just after its last byte, and the close spools
    the run's usage: wait for ``lines`` lines since the last flush."""
    deadline = time.monotonic() + 5
    while not (metering._spool and metering._spool.written >= lines):
        assert time.monotonic() < deadline, "the run's usage was never spooled"
        time.sleep(0.01)


def measure_a_stream_after(
    prior: int, session: Session, queries: QueryLog, data, release: threading.Event
) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """Stream ``prior`` runs (their usage written), then one more under the log:
    (queries before the first token, queries of the whole request)."""
    for index in range(prior):
        session.stream(data)
        wait_until_spooled(index + 1)
    assert flush_usage() == prior
    queries.entries.clear()
    release.clear()
    queries.on = True
    try:
        session.stream(data, queries, release)
        wait_until_spooled(1)
        queries.mark("-- end")
    finally:
        queries.on = False
    assert flush_usage() == 1  # the measured run's usage, written once
    return queries.between(None, FIRST_TOKEN), queries.between(None, "-- end")


def test_a_stream_costs_the_same_queries_after_1_or_50_runs_that_day(
    portal, queries, alice, big_endpoint, big_server
):
    session = Session(portal, alice)
    data = form_data(target(big_endpoint))
    release = hold_after_the_first_word(big_server)

    before_1, total_1 = measure_a_stream_after(1, session, queries, data, release)
    # 1 + 1 measured + 48: the next run is the 51st of the day.
    before_50, total_50 = measure_a_stream_after(48, session, queries, data, release)

    # Before the first token: the session and its user; roles, the endpoint's
    # client and price come from the process's cache.
    assert len(before_1) == len(before_50) == 2, before_1
    assert "django_session" in before_1[0] and "accounts_user" in before_1[1]
    # In all: those, then the run and its answer saved (usage goes to the spool).
    assert len(total_1) == len(total_50) == 4, total_1
    assert [q.split()[2] for q in total_50[2:]] == [
        '"playground_playgroundrun"',
        '"playground_runoutput"',
    ]


def test_a_streamed_runs_usage_lands_in_the_ledger_once_after_the_stream_closed(
    portal, alice, big_endpoint, big_server
):
    use_case = UseCaseFactory(owner=alice, data_classification="internal")
    session = Session(portal, alice)
    data = form_data(target(big_endpoint), use_case=str(use_case.pk))
    for index in range(3):
        session.stream(data)
        wait_until_spooled(index + 1)
    assert flush_usage() == 3
    before = UsageSample.objects.get(endpoint=big_endpoint).requests

    session.stream(data)
    wait_until_spooled(1)

    assert UsageSample.objects.get(endpoint=big_endpoint).requests == before
    assert flush_usage() == 1
    assert flush_usage() == 0  # a second flush finds nothing left
    output = RunOutput.objects.latest("pk")
    call = PortalCall.objects.get(key=f"run-output={output.pk}")
    assert (call.use_case_id, call.output_tokens) == (use_case.pk, output.output_tokens)
    totals = DailyUsage.objects.filter(endpoint=big_endpoint).aggregate(
        requests=Sum("requests"), output_tokens=Sum("output_tokens")
    )
    assert totals == {
        "requests": 4,
        "output_tokens": sum(
            RunOutput.objects.filter(endpoint=big_endpoint).values_list(
                "output_tokens", flat=True
            )
        ),
    }
