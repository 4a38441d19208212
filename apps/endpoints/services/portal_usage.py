"""Usage the portal sent itself (playground runs, test sets), for kinds with no usage API.

Recorded through the ledger's shared writer (:mod:`.metering`, the gateway's
too): a finished call is one line appended to the process's spool, never a
database write while a client waits; the flusher writes each batch in a constant
number of queries, whatever the number of calls of the day:

- one :class:`PortalCall` row per call, upserted on its key, so a call saved
  again (a retried flush, a re-attribution) never counts twice, and one saved at
  another time moves rather than doubles;
- the hourly :class:`UsageSample` of each (endpoint, own use-case, model) touched,
  series ``portal|model=<model>|use_case=<id or empty>``, recomputed from those
  rows (an absolute value, never an increment); calls without a use-case of
  their own are attributed as the endpoint's mappings say;
- the days touched rolled up again (once per endpoint and day per batch).
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, Sum

from apps.endpoints.collectors import UnknownKind, get_collector
from apps.endpoints.collectors.base import floor_time, series_name
from apps.endpoints.models import (
    EndpointMapping,
    PortalCall,
    ServingEndpoint,
    UsageSample,
    resolve_mapping,
)
from apps.endpoints.pricing import PriceBook
from apps.endpoints.services import metering
from apps.endpoints.services.registration import PORTAL_SERIES_PREFIX
from apps.endpoints.services.rollups import CENT, rollup_endpoints_day
from apps.endpoints.services.storage import writing
from apps.usecases.models import UseCase

HOUR = timedelta(hours=1)
SINK = "portal"


def counts_portal_usage(endpoint: ServingEndpoint) -> bool:
    """Whether the portal records its own calls to ``endpoint`` as usage.

    Only for kinds without a usage source of their own (``openai_compatible``,
    whose collector reads nothing). vLLM and TGI counters, the LiteLLM spend API
    and the OpenAI and Anthropic usage reports already include every call the
    portal sends, so for those the collector counts it and the portal does not:
    recording it here as well would count it twice.
    """
    return kind_counts_portal_usage(endpoint.kind)


def kind_counts_portal_usage(kind: str) -> bool:
    """:func:`counts_portal_usage` by the endpoint's kind alone (no database)."""
    try:
        return get_collector(kind).mode == "none"
    except UnknownKind:
        return False


def collection_mode(endpoint: ServingEndpoint) -> str | None:
    """How ``endpoint``'s collector reads usage ("counter", "bucket", "none");
    None for a kind no collector knows."""
    try:
        return get_collector(endpoint.kind).mode
    except UnknownKind:
        return None


def record_portal_usage(
    *,
    endpoint_id: int,
    kind: str,
    key: str,
    model: str,
    use_case_id: int | None,
    at: datetime,
    input_tokens: int | None,
    output_tokens: int | None,
) -> bool:
    """Keep one completed call the portal sent to an endpoint (of ``kind``) for the ledger.

    ``key`` names the call (``"run-output=12"``); recording it again replaces
    it (another use-case, another time), never adds to it. The use-case is
    ``use_case_id``, else that of the endpoint's mapping for ``model`` (as the
    collector attributes). The cost is the catalogue's (or the endpoint's) price
    of the tokens, or a share of the hourly cost on self-hosted endpoints.

    No database here: one append to the spool; the flusher writes it within
    ``GATEWAY_FLUSH_INTERVAL``. Returns False, recording nothing, for endpoints
    whose collector already counts this traffic (every kind but
    ``openai_compatible``, see :func:`counts_portal_usage`).
    """
    if not kind_counts_portal_usage(kind):
        return False
    metering.record(
        {
            "key": key,
            "endpoint": endpoint_id,
            "model": model,
            "use_case": use_case_id,
            "at": at.timestamp(),
            "input_tokens": input_tokens or 0,
            "output_tokens": output_tokens or 0,
            "recorded": time.time(),
        },
        sink=SINK,
    )
    return True


def portal_series(use_case_id: int | None, model: str) -> str:
    return series_name("portal", model=model, use_case=str(use_case_id or ""))


Group = tuple[int, int | None, str, datetime]  # endpoint, own use-case, model, hour


def write_portal_calls(entries: list[dict[str, Any]]) -> None:
    """The sink: write a batch of recorded calls; idempotent on their keys."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in sorted(entries, key=lambda e: e.get("recorded", 0)):
        latest[entry["key"]] = entry  # the last version of each call wins
    if not latest:
        return
    with writing():
        # The collector's lock: a poll's rollup and this one never interleave,
        # and two flushers never write the calls of one endpoint at once.
        endpoints = ServingEndpoint.objects.select_for_update().in_bulk(
            {e["endpoint"] for e in latest.values()}
        )
        before = PortalCall.objects.in_bulk(list(latest), field_name="key")
        catalogue: dict[str, Any] = {}
        touched: set[Group] = set()
        rows = []
        for key, entry in latest.items():
            endpoint = endpoints.get(entry["endpoint"])
            if endpoint is None or not counts_portal_usage(endpoint):
                continue
            recorded = datetime.fromtimestamp(entry.get("recorded", 0), tz=UTC)
            old = before.get(key)
            if old is not None:
                if old.recorded_at > recorded:
                    continue  # a newer version is written already
                touched.add(_group_of(old))
            row = _call_row(key, entry, endpoint, PriceBook(endpoint, catalogue))
            row.recorded_at = recorded
            rows.append(row)
            touched.add(_group_of(row))
        PortalCall.objects.bulk_create(
            rows,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=[
                "endpoint",
                "use_case",
                "model",
                "bucket_start",
                "input_tokens",
                "output_tokens",
                "cost",
                "recorded_at",
            ],
        )
        days = _drop_per_call_samples([row.key for row in rows])
        days |= _recompute_samples(touched, endpoints)
        by_day: dict[date, set[int]] = defaultdict(set)
        for endpoint_id, day in days:
            by_day[day].add(endpoint_id)
        for day, ids in sorted(by_day.items()):
            rollup_endpoints_day(
                endpoints=[endpoints[pk] for pk in sorted(ids)], day=day
            )


metering.register_sink(SINK, write_portal_calls)


def _group_of(call: PortalCall) -> Group:
    return (call.endpoint_id, call.use_case_id, call.model, call.bucket_start)


def _call_row(
    key: str, entry: dict[str, Any], endpoint: ServingEndpoint, prices: PriceBook
) -> PortalCall:
    at = datetime.fromtimestamp(entry["at"], tz=UTC)
    tokens_in, tokens_out = entry["input_tokens"], entry["output_tokens"]
    cost = None
    if not endpoint.is_self_hosted:
        price = prices.price(entry["model"])
        if price is not None:
            # One call: its own prompt size picks the long-context tier.
            cost = price.cost(
                input_tokens=tokens_in, output_tokens=tokens_out, requests=1
            ).quantize(CENT)
    return PortalCall(
        key=key,
        endpoint_id=endpoint.pk,
        use_case_id=entry.get("use_case"),
        model=entry["model"],
        bucket_start=floor_time(at, HOUR),
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost=cost,
    )


def _drop_per_call_samples(keys: list[str]) -> set[tuple[int, date]]:
    """Samples of one call each (``portal|run-output=12``, how calls were kept
    before): a call recorded again now lives in its hour's sample instead."""
    if not keys:
        return set()
    old = UsageSample.objects.filter(
        series__in=[f"{PORTAL_SERIES_PREFIX}{key}" for key in keys]
    )
    found = {
        (endpoint_id, moment.astimezone(UTC).date())
        for endpoint_id, moment in old.values_list("endpoint_id", "bucket_start")
    }
    if found:
        old.delete()
    return found


def _recompute_samples(
    touched: set[Group], endpoints: dict[int, ServingEndpoint]
) -> set[tuple[int, date]]:
    """Set each touched sample to the sum of its calls; (endpoint, day) to roll up."""
    if not touched:
        return set()
    sums = {
        (r["endpoint_id"], r["use_case_id"], r["model"], r["bucket_start"]): r
        for r in PortalCall.objects.filter(
            endpoint_id__in={g[0] for g in touched},
            bucket_start__in={g[3] for g in touched},
        )
        .values("endpoint_id", "use_case_id", "model", "bucket_start")
        .annotate(
            n=Count("pk"),
            i=Sum("input_tokens"),
            o=Sum("output_tokens"),
            cost=Sum("cost"),
        )
    }
    teams = dict(
        UseCase.objects.filter(pk__in={g[1] for g in touched if g[1]}).values_list(
            "pk", "team_id"
        )
    )
    mappings: dict[int, list[EndpointMapping]] = defaultdict(list)
    if any(g[1] is None for g in touched):
        for mapping in EndpointMapping.objects.filter(
            endpoint_id__in={g[0] for g in touched if g[1] is None}
        ).select_related("use_case"):
            mappings[mapping.endpoint_id].append(mapping)
    samples, vanished = [], Q()
    for group in sorted(touched, key=str):
        endpoint_id, own, model, hour = group
        row = sums.get(group)
        series = portal_series(own, model)
        if row is None:  # its calls moved away
            vanished |= Q(endpoint_id=endpoint_id, series=series, bucket_start=hour)
            continue
        if own is not None:
            use_case_id, team_id = own, teams.get(own)
        else:
            use_case_id, team_id = resolve_mapping(
                mappings[endpoint_id], model=model, project_id=None, api_key_id=None
            )
        samples.append(
            UsageSample(
                endpoint=endpoints[endpoint_id],
                series=series,
                bucket_start=hour,
                bucket_end=hour + HOUR,
                measure=UsageSample.Measure.USAGE,
                model=model,
                use_case_id=use_case_id,
                team_id=team_id,
                requests=row["n"],
                input_tokens=row["i"],
                output_tokens=row["o"],
                cost=row["cost"],
            )
        )
    if vanished:
        UsageSample.objects.filter(vanished).delete()
    UsageSample.objects.bulk_create(
        samples,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["endpoint", "series", "bucket_start"],
        update_fields=[
            "bucket_end",
            "measure",
            "model",
            "use_case",
            "team",
            "requests",
            "input_tokens",
            "output_tokens",
            "cost",
        ],
    )
    return {(g[0], g[3].astimezone(UTC).date()) for g in touched}
