"""Usage the portal sent itself (playground runs, test sets), for kinds with no usage API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.endpoints.collectors import UnknownKind, get_collector
from apps.endpoints.collectors.base import floor_time
from apps.endpoints.models import ServingEndpoint, UsageSample, resolve_mapping
from apps.endpoints.pricing import PriceBook
from apps.endpoints.services.registration import PORTAL_SERIES_PREFIX
from apps.endpoints.services.rollups import CENT, rollup_day
from apps.endpoints.services.storage import writing
from apps.usecases.models import UseCase

HOUR = timedelta(hours=1)


def counts_portal_usage(endpoint: ServingEndpoint) -> bool:
    """Whether the portal records its own calls to ``endpoint`` as usage.

    Only for kinds without a usage source of their own (``openai_compatible``,
    whose collector reads nothing). vLLM and TGI counters, the LiteLLM spend API
    and the OpenAI and Anthropic usage reports already include every call the
    portal sends, so for those the collector counts it and the portal does not:
    recording it here as well would count it twice.
    """
    return collection_mode(endpoint) == "none"


def collection_mode(endpoint: ServingEndpoint) -> str | None:
    """How ``endpoint``'s collector reads usage ("counter", "bucket", "none");
    None for a kind no collector knows."""
    try:
        return get_collector(endpoint.kind).mode
    except UnknownKind:
        return None


def record_portal_usage(
    *,
    endpoint: ServingEndpoint,
    key: str,
    model: str,
    use_case: UseCase | None,
    at: datetime,
    input_tokens: int | None,
    output_tokens: int | None,
) -> UsageSample | None:
    """Record one completed call the portal itself sent to ``endpoint``.

    One usage sample per call, in series ``"portal|<key>"`` (``key`` names the
    call, e.g. ``"run-output=12"``) and the bucket of the hour of ``at``: an
    upsert, so saving the same call again (a retry, a re-attribution) never
    counts it twice, and a call saved again with another time moves rather than
    doubles. ``requests`` is 1; the cost is the catalogue's (or the endpoint's)
    price of the tokens, or spread from the hourly cost by the daily rollup on
    self-hosted endpoints. The use-case is ``use_case``, else that of the
    endpoint's mapping for ``model`` (as the collector attributes). The days
    touched are rolled up again.

    Returns ``None`` and records nothing for endpoints whose collector already
    counts this traffic (every kind but ``openai_compatible``, see
    :func:`counts_portal_usage`).
    """
    if not counts_portal_usage(endpoint):
        return None
    series = f"{PORTAL_SERIES_PREFIX}{key}"
    bucket_start = floor_time(at.astimezone(UTC), HOUR)
    tokens_in, tokens_out = input_tokens or 0, output_tokens or 0
    with writing():
        # The collector's lock: a poll's rollup and this one never interleave.
        endpoint = ServingEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if use_case is not None:
            use_case_id, team_id = use_case.pk, use_case.team_id
        else:
            use_case_id, team_id = resolve_mapping(
                list(endpoint.mappings.select_related("use_case")),
                model=model,
                project_id=None,
                api_key_id=None,
            )
        cost = None
        if not endpoint.is_self_hosted:
            price = PriceBook(endpoint).price(model)
            if price is not None:
                # One call: its own prompt size picks the long-context tier.
                cost = price.cost(
                    input_tokens=tokens_in, output_tokens=tokens_out, requests=1
                ).quantize(CENT)
        days = {bucket_start.date()}
        moved = UsageSample.objects.filter(endpoint=endpoint, series=series).exclude(
            bucket_start=bucket_start
        )
        days |= {
            moment.astimezone(UTC).date()
            for moment in moved.values_list("bucket_start", flat=True)
        }
        moved.delete()
        sample, _ = UsageSample.objects.update_or_create(
            endpoint=endpoint,
            series=series,
            bucket_start=bucket_start,
            defaults={
                "bucket_end": bucket_start + HOUR,
                "measure": UsageSample.Measure.USAGE,
                "model": model,
                "project_id": "",
                "api_key_id": "",
                "use_case_id": use_case_id,
                "team_id": team_id,
                "requests": 1,
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "cached_input_tokens": 0,
                "cost": cost,
                "cost_reported": False,
            },
        )
        for day in sorted(days):
            rollup_day(endpoint=endpoint, day=day)
    if endpoint.is_self_hosted:
        sample.refresh_from_db(fields=["cost"])  # allocated by the rollup
    return sample
