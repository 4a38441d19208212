"""Endpoint services, one module per topic; the public names are re-exported here.

- :mod:`.registration`: endpoints, mappings, "test connection";
- :mod:`.collection`: claiming due endpoints, polling them, recording failures;
- :mod:`.storage`: turning readings into samples (counters, buckets, gaps);
- :mod:`.rollups`: daily rollups and pruning of raw samples;
- :mod:`.portal_usage`: calls the portal sends itself, for kinds with no usage API;
- :mod:`.metering`: the ledger's writer (spool and flusher) for those calls and
  the gateway's;
- :mod:`.drift`: live volume against the assessment.
"""

from apps.endpoints.models import resolve_mapping
from apps.endpoints.services.collection import (
    SUPERSEDED,
    Fetched,
    PollResult,
    TransientCollectionError,
    claim_due_endpoints,
    collect_endpoint,
    collect_endpoints_inline,
    fetch,
    record_failure,
    release_claim,
    renew_claim,
    take_over,
)
from apps.endpoints.services.drift import (
    Threshold,
    actual_requests_per_day,
    flag_drifted_use_cases,
    threshold_for,
)
from apps.endpoints.services.portal_usage import (
    collection_mode,
    counts_portal_usage,
    kind_counts_portal_usage,
    record_portal_usage,
    write_portal_calls,
)
from apps.endpoints.services.registration import (
    PORTAL_SERIES_PREFIX,
    base_url_problem,
    delete_mapping,
    probe_endpoint,
    remap_samples,
    save_endpoint,
    save_mapping,
)
from apps.endpoints.services.rollups import (
    CENT,
    prune_usage_samples,
    rollup_day,
    rollup_endpoints_day,
)
from apps.endpoints.services.storage import spread, store_batch, store_readings

__all__ = [
    "CENT",
    "PORTAL_SERIES_PREFIX",
    "SUPERSEDED",
    "Fetched",
    "PollResult",
    "Threshold",
    "TransientCollectionError",
    "actual_requests_per_day",
    "base_url_problem",
    "claim_due_endpoints",
    "collect_endpoint",
    "collect_endpoints_inline",
    "collection_mode",
    "counts_portal_usage",
    "delete_mapping",
    "fetch",
    "flag_drifted_use_cases",
    "kind_counts_portal_usage",
    "probe_endpoint",
    "prune_usage_samples",
    "record_failure",
    "record_portal_usage",
    "release_claim",
    "remap_samples",
    "renew_claim",
    "resolve_mapping",
    "rollup_day",
    "rollup_endpoints_day",
    "save_endpoint",
    "save_mapping",
    "spread",
    "store_batch",
    "store_readings",
    "take_over",
    "threshold_for",
    "write_portal_calls",
]
