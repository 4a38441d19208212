"""The one interface every usage collector implements, and what they share.

A collector turns what a serving endpoint or provider reports into
:class:`Reading` values. It never touches the database, Django or credentials
storage: the caller passes an ``httpx.Client`` (from ``apps.core.http``), the
endpoint's base URL and its decrypted key, and stores what comes back.

Two kinds of reading:

- ``counter``: cumulative totals since the server process started (vLLM, TGI).
  The caller keeps the previous reading of each ``series`` and turns the pair
  into a delta with :func:`apps.endpoints.counters.counter_delta`, field by field.
- ``bucket``: amounts already aggregated over ``[bucket_start, bucket_end)``
  (OpenAI, Anthropic, LiteLLM). They are final or revised-in-place values, so the
  caller upserts them under ``(endpoint, series, bucket_start)``: a re-poll of
  the same bucket overwrites rather than adds. ``collect`` never returns two
  readings with the same :attr:`Reading.key`.

``measure`` tells usage from billed spend. ``usage`` readings carry requests and
tokens (and ``cost`` when the source reports its own spend, as LiteLLM does);
``cost`` readings carry only what the provider billed (OpenAI costs API,
Anthropic cost report), with no model attribution, for reconciliation: do not add
them to catalogue-priced usage, or spend counts twice.
"""

from __future__ import annotations

import abc
import functools
import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol, runtime_checkable

import httpx

from apps.core.http import UnsafeURL
from apps.core.http import deadline as http_deadline

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_PAGES",
    "BaseCollector",
    "Collector",
    "CollectorError",
    "Measure",
    "ProbeReport",
    "Reading",
    "ReadingMode",
    "api_root",
    "ceil_time",
    "floor_time",
    "openai_api_base",
    "series_name",
]

ReadingMode = Literal["counter", "bucket"]
Measure = Literal["usage", "cost"]

#: Largest response body a collector reads; a bigger one is refused.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Most pages a collector follows in one call, in case a cursor never ends.
MAX_PAGES = 200


@dataclass(frozen=True, slots=True)
class Reading:
    """One series' usage, as a cumulative counter or for one time bucket."""

    series: str
    model: str
    mode: ReadingMode
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal | None = None
    bucket_start: datetime | None = None
    bucket_end: datetime | None = None
    project_id: str | None = None
    api_key_id: str | None = None
    #: Input tokens served from the provider's prompt cache; part of input_tokens.
    cached_input_tokens: int = 0
    measure: Measure = "usage"
    #: When the counters' process started (Prometheus ``_created``), if reported.
    started_at: datetime | None = None
    #: Input tokens written to the prompt cache (default / 5-minute lifetime);
    #: part of input_tokens, priced at the model's cache-write price.
    cache_write_tokens: int = 0
    #: Input tokens written to the prompt cache with a 1-hour lifetime (Anthropic);
    #: part of input_tokens.
    cache_write_1h_tokens: int = 0
    #: The provider's service tier: "" (standard), "batch", "priority" or "flex";
    #: batch and priority traffic is priced at their own rates.
    service_tier: str = ""
    #: Why this series was refused (a negative or non-numeric counter, …): such a
    #: reading carries no usage; storing records the error and stores the rest.
    error: str = ""

    def __post_init__(self) -> None:
        if self.mode == "bucket":
            if self.bucket_start is None or self.bucket_start.tzinfo is None:
                raise ValueError("A bucket reading needs an aware bucket_start.")
        elif self.mode == "counter":
            if self.bucket_start is not None:
                raise ValueError("A counter reading has no bucket.")
        else:
            raise ValueError(f"Unknown reading mode {self.mode!r}.")

    @property
    def key(self) -> tuple[str, datetime | None]:
        """What a stored sample is unique on, together with its endpoint."""
        return (self.series, self.bucket_start)


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """The answer to "test connection": reachable or not, and the models seen."""

    ok: bool
    models: list[str] = field(default_factory=list)
    detail: str = ""


class CollectorError(Exception):
    """A collection that failed: unreachable, refused, bad status or garbage body.

    ``message`` is safe to show to platform users: it never contains the API key
    nor the response body. ``transient`` says whether retrying later may help
    (timeouts, connection errors, 429, 5xx); ``retry_after`` is the server's hint
    in seconds, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.transient = transient
        self.retry_after = retry_after


@runtime_checkable
class Collector(Protocol):
    """What the collection task needs from a collector of a given kind."""

    kind: str
    #: "counter" or "bucket", or "none" when the kind has no usage source.
    mode: str
    #: How far back a bucket collector re-reads, since providers revise buckets.
    lookback: timedelta

    def collect(
        self,
        client: httpx.Client,
        *,
        base_url: str,
        api_key: str | None,
        since: datetime,
        until: datetime,
    ) -> list[Reading]: ...

    def probe(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> ProbeReport: ...


#: A whole fetch (connect, headers, body) may last this many times the client's
#: read timeout; a scrape that needs more is not a healthy endpoint.
FETCH_DEADLINE_FACTOR = 2.0
#: The deadline of a fetch when the client has no read timeout, in seconds.
DEFAULT_FETCH_DEADLINE = 60.0


def fetch_deadline(client: httpx.Client) -> float:
    """Seconds a whole fetch with ``client`` may take (see :meth:`BaseCollector.fetch`).

    Taken from the client's read timeout, so callers (which build clients with
    ``ENDPOINT_TIMEOUT_SECONDS``) need no setting of their own.
    """
    read = client.timeout.read
    return DEFAULT_FETCH_DEADLINE if read is None else FETCH_DEADLINE_FACTOR * read


def _too_slow(shown: str, seconds: float) -> CollectorError:
    return CollectorError(
        f"{shown} did not answer within {seconds:g} s.", transient=True
    )


class BaseCollector(abc.ABC):
    """Shared plumbing: bounded fetches, error mapping and a probe that never raises."""

    kind: str = ""
    mode: str = "none"
    lookback: timedelta = timedelta(0)

    @abc.abstractmethod
    def collect(
        self,
        client: httpx.Client,
        *,
        base_url: str,
        api_key: str | None,
        since: datetime,
        until: datetime,
    ) -> list[Reading]:
        """Return the readings the endpoint reports between ``since`` and ``until``."""

    def probe(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> ProbeReport:
        """Check the endpoint answers as its kind should; never raises."""
        try:
            return self._probe(client, base_url=base_url, api_key=api_key)
        except CollectorError as exc:
            return ProbeReport(ok=False, models=[], detail=exc.message)

    @abc.abstractmethod
    def _probe(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> ProbeReport: ...

    # Helpers for subclasses.

    def fetch(
        self,
        client: httpx.Client,
        url: str,
        *,
        api_key: str | None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> bytes:
        """GET ``url`` without following redirects; return the body or raise.

        Redirects are not followed because some providers take the key in a
        custom header (``x-api-key``), which httpx would forward to another host.
        The fetch has a deadline (:func:`fetch_deadline`) on top of the client's
        timeouts: httpx limits each read only, so a server trickling its status
        line, headers or body a byte at a time would otherwise hold a worker for
        as long as it likes.
        """
        shown = _shown_url(url)
        seconds = fetch_deadline(client)
        expires = time.monotonic() + seconds
        # The deadline holds on the socket (apps.core.http.deadline): every read
        # and write, status line and headers included, stops when it passes.
        with http_deadline(seconds):
            try:
                with client.stream(
                    "GET",
                    url,
                    headers=dict(headers or {}),
                    params=dict(params or {}),
                    follow_redirects=False,
                ) as response:
                    _raise_for_status(response, shown)
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > MAX_BODY_BYTES:
                            raise CollectorError(
                                f"{shown} returned more than {MAX_BODY_BYTES} bytes."
                            )
                    return bytes(body)
            except UnsafeURL as exc:
                raise CollectorError(
                    _redact(f"{shown} is not allowed: {exc.message}", api_key)
                ) from None
            except httpx.TimeoutException:
                if time.monotonic() >= expires - 0.01:
                    raise _too_slow(shown, seconds) from None
                raise CollectorError(f"{shown} timed out.", transient=True) from None
            except httpx.TransportError as exc:
                reason = _redact(str(exc) or type(exc).__name__, api_key)
                raise CollectorError(
                    f"{shown} could not be reached: {reason}", transient=True
                ) from None

    def fetch_json(
        self,
        client: httpx.Client,
        url: str,
        *,
        api_key: str | None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """GET ``url`` and return its JSON object; floats come back as Decimal."""
        body = self.fetch(client, url, api_key=api_key, headers=headers, params=params)
        try:
            data = json.loads(body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise CollectorError(f"{_shown_url(url)} did not return JSON.") from None
        if not isinstance(data, dict):
            raise CollectorError(f"{_shown_url(url)} did not return a JSON object.")
        return data

    def fetch_text(
        self,
        client: httpx.Client,
        url: str,
        *,
        api_key: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """GET ``url`` and return its body as text (UTF-8)."""
        body = self.fetch(client, url, api_key=api_key, headers=headers)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise CollectorError(f"{_shown_url(url)} did not return text.") from None

    # Parsing JSON at the boundary: each helper names where the shape was wrong.

    def fetch_bucket_pages(
        self,
        client: httpx.Client,
        url: str,
        *,
        api_key: str,
        headers: dict[str, str],
        params: dict[str, Any],
        start_key: str,
        end_key: str,
        max_pages: int | None = None,
    ) -> list[tuple[datetime, datetime, list[dict[str, Any]]]]:
        """Every bucket of every page of a cursor-paginated report (OpenAI, Anthropic).

        Each page is ``{"data": [{start_key, end_key, "results": [...]}], ...}`` with a
        ``next_page`` cursor; returns (start, end, results) for each bucket.
        """
        buckets = []
        cursors: list[str] = []
        while True:
            page_params = dict(params)
            if cursors:
                page_params["page"] = cursors[-1]
            page = self.fetch_json(
                client, url, api_key=api_key, headers=headers, params=page_params
            )
            for index, bucket in enumerate(get_list(page, "data", "page")):
                where = f"page.data[{index}]"
                if not isinstance(bucket, dict):
                    raise CollectorError(
                        f"Unexpected response: {where} is not an object."
                    )
                items = get_list(bucket, "results", where)
                if not all(isinstance(item, dict) for item in items):
                    raise CollectorError(f"Unexpected response: {where}.results.")
                start = get_timestamp(bucket, start_key, where)
                end = get_timestamp(bucket, end_key, where)
                buckets.append((start, end, items))
            if max_pages is not None and len(cursors) + 1 >= max_pages:
                return buckets
            cursor = next_cursor(page, "page", cursors)
            if cursor is None:
                return buckets
            cursors.append(cursor)


def get_object(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """``data[key]`` as an object; a missing or null value is an empty one."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _shape(f"{where}.{key} is not an object")
    return value


def get_list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """``data[key]`` as a list; a missing or null value is an empty one."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _shape(f"{where}.{key} is not a list")
    return value


def get_int(data: Mapping[str, Any], key: str, where: str) -> int:
    """``data[key]`` as a non-negative integer; missing or null is 0."""
    value = data.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _shape(f"{where}.{key} is not a number")
    if value < 0 or (isinstance(value, Decimal) and not value.is_finite()):
        raise _shape(f"{where}.{key} is not a count")
    return int(value)


def get_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    """``data[key]`` as a string, or None."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _shape(f"{where}.{key} is not a string")
    return value


def get_bool(data: Mapping[str, Any], key: str, where: str) -> bool:
    """``data[key]`` as a boolean; missing or null is False."""
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _shape(f"{where}.{key} is not a boolean")
    return value


def get_decimal(data: Mapping[str, Any], key: str, where: str) -> Decimal:
    """``data[key]`` as a Decimal, from a JSON number or a decimal string."""
    value = data.get(key)
    if value is None:
        return Decimal(0)
    if isinstance(value, bool):
        raise _shape(f"{where}.{key} is not an amount")
    try:
        amount = Decimal(value) if isinstance(value, int | str) else value
    except InvalidOperation:
        raise _shape(f"{where}.{key} is not an amount") from None
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise _shape(f"{where}.{key} is not an amount")
    return amount


def get_timestamp(data: Mapping[str, Any], key: str, where: str) -> datetime:
    """``data[key]`` (Unix seconds or RFC 3339) as an aware UTC datetime."""
    value = data.get(key)
    try:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return datetime.fromtimestamp(int(value), tz=UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise _shape(f"{where}.{key} is not a time")


def _shape(problem: str) -> CollectorError:
    return CollectorError(f"Unexpected response: {problem}.")


# URLs, series names and time buckets.

_VERSION_SUFFIX = re.compile(r"/v\d+(?:alpha\d*|beta\d*)?$")


def api_root(base_url: str) -> str:
    """The server root of ``base_url``: no trailing slash, no ``/v1`` suffix."""
    root = base_url.strip().rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    return root


def openai_api_base(base_url: str) -> str:
    """The OpenAI-style API base (``…/v1``) for ``base_url``.

    Accepts both forms people type: ``http://host:8000`` and
    ``http://host:8000/v1`` (or another version such as ``/v1beta``).
    """
    base = base_url.strip().rstrip("/")
    if _VERSION_SUFFIX.search(base):
        return base
    return f"{base}/v1"


def series_name(source: str, **labels: str | None) -> str:
    """A stable series name: ``source`` then the labels sorted, ``|``-separated.

    >>> series_name("openai.usage", model="gpt-4o", project_id=None)
    'openai.usage|model=gpt-4o|project_id='
    """
    parts = [source]
    parts.extend(f"{name}={labels[name] or ''}" for name in sorted(labels))
    return "|".join(parts)


def floor_time(moment: datetime, width: timedelta) -> datetime:
    """Round an aware ``moment`` down to a multiple of ``width`` since the epoch."""
    _require_aware(moment)
    seconds = int(width.total_seconds())
    stamp = math.floor(moment.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=UTC)


def ceil_time(moment: datetime, width: timedelta) -> datetime:
    """Round an aware ``moment`` up to a multiple of ``width`` since the epoch."""
    floored = floor_time(moment, width)
    return floored if floored == moment else floored + width


def check_window(since: datetime, until: datetime) -> None:
    """Raise ``ValueError`` unless both bounds are aware datetimes."""
    _require_aware(since)
    _require_aware(until)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Collection windows need timezone-aware datetimes.")


def merge_readings(readings: Iterable[Reading]) -> list[Reading]:
    """Sum readings that share a key, so each key appears once; sorted by key."""
    merged: dict[tuple[str, datetime | None], Reading] = {}
    for reading in readings:
        existing = merged.get(reading.key)
        if existing is None:
            merged[reading.key] = reading
            continue
        cost: Decimal | None = None
        if existing.cost is not None or reading.cost is not None:
            cost = (existing.cost or Decimal(0)) + (reading.cost or Decimal(0))
        merged[reading.key] = replace(
            existing,
            requests=existing.requests + reading.requests,
            input_tokens=existing.input_tokens + reading.input_tokens,
            output_tokens=existing.output_tokens + reading.output_tokens,
            cached_input_tokens=existing.cached_input_tokens
            + reading.cached_input_tokens,
            cache_write_tokens=existing.cache_write_tokens + reading.cache_write_tokens,
            cache_write_1h_tokens=existing.cache_write_1h_tokens
            + reading.cache_write_1h_tokens,
            cost=cost,
        )
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(merged.values(), key=lambda r: (r.bucket_start or epoch, r.series))


def bearer(api_key: str | None) -> dict[str, str]:
    """An ``Authorization`` header for ``api_key``, or none."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def require_key(api_key: str | None, what: str) -> str:
    """Return ``api_key`` or raise a clear, non-transient error."""
    if not api_key:
        raise CollectorError(f"{what} is required but the endpoint has none.")
    return api_key


def model_ids(data: Mapping[str, Any], where: str) -> list[str]:
    """The ids of an OpenAI-style ``/v1/models`` list."""
    ids: list[str] = []
    for index, item in enumerate(get_list(data, "data", where)):
        if not isinstance(item, dict):
            raise _shape(f"{where}.data[{index}] is not an object")
        model = get_str(item, "id", f"{where}.data[{index}]")
        if model:
            ids.append(model)
    return ids


def next_cursor(page: Mapping[str, Any], where: str, seen: Sequence[str]) -> str | None:
    """The ``next_page`` cursor of a ``has_more`` page, or None at the end."""
    if not get_bool(page, "has_more", where):
        return None
    cursor = get_str(page, "next_page", where)
    if not cursor:
        raise _shape(f"{where} has more pages but no next_page")
    if cursor in seen:
        raise _shape(f"{where} repeats the page cursor")
    if len(seen) >= MAX_PAGES:
        raise CollectorError(f"{where} has more than {MAX_PAGES} pages.")
    return cursor


# Error mapping.


@functools.lru_cache(maxsize=4096)  # the same few URLs, polled again and again
def _shown_url(url: str) -> str:
    """``url`` without query or credentials, for messages."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "the endpoint"
    return str(parsed.copy_with(query=None, fragment=None, userinfo=b""))


def _raise_for_status(response: httpx.Response, shown: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise CollectorError(
            f"{shown} redirected (HTTP {status}); use the final URL.",
            status_code=status,
        )
    if status in (401, 403):
        raise CollectorError(
            f"{shown} refused the credentials (HTTP {status}).", status_code=status
        )
    if status == 404:
        raise CollectorError(
            f"{shown} was not found (HTTP 404); check the base URL and kind.",
            status_code=status,
        )
    if status == 429 or status >= 500:
        raise CollectorError(
            f"{shown} answered HTTP {status}.",
            status_code=status,
            transient=True,
            retry_after=_retry_after(response),
        )
    raise CollectorError(f"{shown} answered HTTP {status}.", status_code=status)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _redact(text: str, api_key: str | None) -> str:
    if api_key:
        text = text.replace(api_key, "***")
    return text


# Reading why a server refused: the message of an error body.

#: Most of an error body read to find its message.
MAX_ERROR_BYTES = 64 * 1024
#: Longest error message kept from a server.
MAX_ERROR_CHARS = 300


def error_message(
    client: httpx.Client,
    url: str,
    *,
    api_key: str | None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    seconds: float = 5.0,
) -> str:
    """GET ``url`` again and return the message of its (error) JSON body, or "".

    For telling a setup error from a passing one after a 5xx: FastAPI's
    ``{"detail": …}``, ``{"error": {"message": …}}`` and ``{"error": "…"}`` are
    understood. Reads at most :data:`MAX_ERROR_BYTES` for at most ``seconds``;
    never raises.
    """
    deadline = time.monotonic() + seconds
    body = bytearray()
    try:
        with client.stream(
            "GET",
            url,
            headers=dict(headers or {}),
            params=dict(params or {}),
            follow_redirects=False,
        ) as response:
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) >= MAX_ERROR_BYTES or time.monotonic() > deadline:
                    break
    except (httpx.HTTPError, UnsafeURL):
        return ""
    try:
        data = json.loads(bytes(body[:MAX_ERROR_BYTES]))
    except (ValueError, UnicodeDecodeError):
        return ""
    return _redact(_message_of(data), api_key)[:MAX_ERROR_CHARS]


def _message_of(data: Any) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        for key in ("detail", "error", "message"):
            if key in data:
                found = _message_of(data[key])
                if found:
                    return found
    return ""
