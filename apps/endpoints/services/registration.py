"""Registering endpoints and their mappings, and testing a connection."""

from __future__ import annotations

from datetime import UTC, date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core import crypto
from apps.core.http import UnsafeURL, check_url, make_client
from apps.endpoints.collectors import ProbeReport, UnknownKind, get_collector
from apps.endpoints.models import (
    CounterState,
    EndpointMapping,
    ServingEndpoint,
    UsageSample,
    resolve_mapping,
)
from apps.endpoints.services.rollups import rollup_day
from apps.usecases.models import AuditEvent

if TYPE_CHECKING:
    from apps.accounts.models import User

#: Series of portal-sent calls start with this; ``remap_samples`` keeps their use-case.
PORTAL_SERIES_PREFIX = "portal|"
#: Changing these points the endpoint at another server: its counters start again.
REPOINTING_FIELDS = {"base_url", "kind"}


def base_url_problem(url: str) -> str | None:
    """Why ``url`` may not be registered (SSRF guard), or None when it may."""
    try:
        check_url(url, allowed_networks=settings.ENDPOINT_ALLOWED_NETWORKS)
    except UnsafeURL as exc:
        return exc.message
    return None


def save_endpoint(
    *,
    endpoint: ServingEndpoint | None,
    fields: dict[str, Any],
    by: User | None,
    api_key: str | None = None,
    clear_api_key: bool = False,
    check_base_url: bool = True,
) -> ServingEndpoint:
    """Create or change an endpoint; ``api_key`` None or blank keeps the current one.

    Raises :class:`UnsafeURL` when the base URL is refused. The audit record says
    whether the key changed, never what it is. A new base URL or kind starts a
    new baseline: the counters read so far belong to another server, so they are
    forgotten, and a poll already in flight is taken over (it stores nothing).
    """
    creating = endpoint is None
    if endpoint is None:
        endpoint = ServingEndpoint(created_by=by)
    before = {name: getattr(endpoint, name, None) for name in fields}
    if check_base_url and "base_url" in fields:
        check_url(
            fields["base_url"], allowed_networks=settings.ENDPOINT_ALLOWED_NETWORKS
        )
    for name, value in fields.items():
        setattr(endpoint, name, value)
    key_changed = False
    if api_key:
        endpoint.set_api_key(api_key)
        key_changed = True
    elif clear_api_key and endpoint.has_api_key:
        endpoint.set_api_key(None)
        key_changed = True
    changed = sorted(name for name in fields if before[name] != fields[name])
    repointed = not creating and bool(REPOINTING_FIELDS & set(changed))
    data: dict[str, Any] = {
        "endpoint": None,
        "fields": changed if not creating else sorted(fields),
        "api_key_changed": key_changed,
    }
    if creating or {"base_url", "kind", "enabled"} & set(changed) or key_changed:
        endpoint.next_poll_at = timezone.now()  # poll soon with the new settings
    with transaction.atomic():
        if repointed:
            endpoint.baseline_at = timezone.now()
            endpoint.claim_token = ""  # an in-flight poll read the old server
            data["new_baseline"] = True
            data["before"] = {
                name: before[name] for name in REPOINTING_FIELDS & set(changed)
            }
        endpoint.save()
        if repointed:
            CounterState.objects.filter(endpoint=endpoint).delete()
        data["endpoint"] = endpoint.pk
        AuditEvent.record(
            kind="endpoint.registered" if creating else "endpoint.changed",
            summary=f"Serving endpoint {endpoint.name} "
            + ("registered." if creating else "changed.")
            + (" Counters start a new baseline." if repointed else ""),
            actor=by,
            data=data,
        )
    return endpoint


def save_mapping(
    *, endpoint: ServingEndpoint, fields: dict[str, Any], by: User
) -> EndpointMapping:
    """Add a mapping and attribute the endpoint's past samples again."""
    with transaction.atomic():
        mapping = EndpointMapping.objects.create(endpoint=endpoint, **fields)
        remap_samples(endpoint=endpoint)
        AuditEvent.record(
            kind="endpoint.mapping_added",
            summary=f"{endpoint.name}: {mapping.describe_match()} mapped.",
            actor=by,
            use_case=mapping.use_case,
            data={"endpoint": endpoint.pk, "mapping": mapping.pk},
        )
    return mapping


def delete_mapping(*, mapping: EndpointMapping, by: User) -> None:
    endpoint = mapping.endpoint
    with transaction.atomic():
        AuditEvent.record(
            kind="endpoint.mapping_removed",
            summary=f"{endpoint.name}: {mapping.describe_match()} unmapped.",
            actor=by,
            use_case=mapping.use_case,
            data={"endpoint": endpoint.pk},
        )
        mapping.delete()
        remap_samples(endpoint=endpoint)


def remap_samples(*, endpoint: ServingEndpoint) -> None:
    """Re-attribute every sample of ``endpoint`` and rebuild its daily rollups.

    Portal-sent calls recorded with a use-case of their own keep it.
    """
    endpoint = ServingEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    mappings = list(endpoint.mappings.select_related("use_case"))
    changed: list[UsageSample] = []
    days: set[date] = set()
    for sample in endpoint.samples.all():
        days.add(sample.bucket_start.astimezone(UTC).date())
        if sample.series.startswith(PORTAL_SERIES_PREFIX) and sample.use_case_id:
            continue  # the run's own use-case, not a mapping's
        target = resolve_mapping(
            mappings,
            model=sample.model,
            project_id=sample.project_id,
            api_key_id=sample.api_key_id,
        )
        if target != (sample.use_case_id, sample.team_id):
            sample.use_case_id, sample.team_id = target
            changed.append(sample)
    UsageSample.objects.bulk_update(changed, ["use_case", "team"], batch_size=500)
    for day in sorted(days):
        rollup_day(endpoint=endpoint, day=day)


def probe_endpoint(*, endpoint: ServingEndpoint) -> ProbeReport:
    """ "Test connection": what the endpoint answers, or exactly what went wrong."""
    try:
        collector = get_collector(endpoint.kind)
    except UnknownKind as exc:
        return ProbeReport(ok=False, detail=str(exc))
    try:
        api_key = endpoint.decrypt_api_key()
    except crypto.DecryptionError:
        return ProbeReport(
            ok=False, detail="The stored API key cannot be decrypted; enter it again."
        )
    with make_client(timeout=settings.ENDPOINT_TIMEOUT_SECONDS) as client:
        report = collector.probe(client, base_url=endpoint.base_url, api_key=api_key)
    if report.ok and report.models:
        models = sorted(set(endpoint.served_models or []) | set(report.models))
        if models != endpoint.served_models:
            ServingEndpoint.objects.filter(pk=endpoint.pk).update(served_models=models)
            endpoint.served_models = models
    return report
