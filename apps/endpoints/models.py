"""Serving endpoints, what their usage maps to, and the usage they report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Team
from apps.core import crypto
from apps.core.http import UnsafeURL, check_url, check_url_form
from apps.usecases.models import UseCase

if TYPE_CHECKING:
    from apps.accounts.models import User

#: Consecutive failed polls after which a stale endpoint is called failing.
FAILING_AFTER = 3
#: Kinds billed per token by a provider (the rest run on hardware we pay by the hour).
VENDOR_BY_KIND = {"openai": "OpenAI", "anthropic": "Anthropic"}


def validate_base_url(value: str) -> None:
    """Django validator for an endpoint's base URL: the SSRF guard's full check.

    Resolves the host and judges every address against the IANA deny tables and
    ``settings.ENDPOINT_ALLOWED_NETWORKS``; model validation (so the admin and the
    portal's form) runs it, and the API runs the same :func:`check_url`.
    """
    try:
        check_url(value, allowed_networks=settings.ENDPOINT_ALLOWED_NETWORKS)
    except UnsafeURL as exc:
        raise ValidationError(exc.message, code="unsafe_url") from None


class ServingEndpointQuerySet(models.QuerySet["ServingEndpoint"]):
    def visible_to(self, user: User) -> ServingEndpointQuerySet:
        """Endpoints the user may read.

        Platform, board, procurement and auditors read every endpoint; a requester
        reads those mapped to a use-case they can see.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.reads_everything:
            return self
        visible = UseCase.objects.visible_to(user).values("pk")
        return self.filter(
            pk__in=EndpointMapping.objects.filter(use_case__in=visible).values(
                "endpoint_id"
            )
        )

    def due(self, now: datetime) -> ServingEndpointQuerySet:
        """Enabled endpoints whose next poll time has come (or was never set)."""
        return self.filter(enabled=True).filter(
            Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
        )

    def for_list(self, user: User | None = None) -> ServingEndpointQuerySet:
        """Prefetch mappings, only to use-cases ``user`` may see when given."""
        mappings = EndpointMapping.objects.select_related("use_case", "team")
        if user is not None and not user.reads_everything:
            mappings = mappings.filter(
                use_case__in=UseCase.objects.visible_to(user).values("pk")
            )
        return self.prefetch_related(models.Prefetch("mappings", queryset=mappings))


class ServingEndpoint(models.Model):
    """A deployed model service the portal polls for usage (and the playground calls).

    The API key is stored encrypted (:mod:`apps.core.crypto`) and is write-only:
    nothing renders it, and it is decrypted only inside a collection or a probe.
    """

    class Kind(models.TextChoices):
        VLLM = "vllm", "vLLM"
        TGI = "tgi", "Text Generation Inference"
        LITELLM = "litellm", "LiteLLM proxy"
        OPENAI = "openai", "OpenAI"
        ANTHROPIC = "anthropic", "Anthropic"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible (no usage API)"

    class Location(models.TextChoices):
        IN_HOUSE = "in_house", "In-house"
        EXTERNAL = "external", "External"

    class Health(models.TextChoices):
        OK = "ok", "OK"
        STALE = "stale", "Stale"
        FAILING = "failing", "Failing"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    base_url = models.CharField(max_length=500)
    location = models.CharField(
        max_length=10, choices=Location.choices, default=Location.IN_HOUSE
    )
    api_key_encrypted = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(
        default=True, help_text="Poll this endpoint for usage."
    )
    poll_interval_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(15), MaxValueValidator(86_400)]
    )

    # Cost basis: an hourly cost (self-hosted) or per-token prices (catalogue first).
    hourly_cost = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="USD an hour for the hardware (self-hosted endpoints).",
    )
    input_usd_per_mtok = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Fallback price when the catalogue has no price for a model.",
    )
    output_usd_per_mtok = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    vendor = models.CharField(
        max_length=80, blank=True, help_text="Who is paid; derived from the kind."
    )

    chat_capable = models.BooleanField(
        default=True, help_text="Serves /v1/chat/completions (playground)."
    )
    served_models = models.JSONField(default=list, blank=True)

    health = models.CharField(
        max_length=10, choices=Health.choices, default=Health.STALE, db_index=True
    )
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The poll holding the claim; only its results are stored (see services.collection).
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    # Counters seen before this moment are not counted from their start (re-pointing).
    baseline_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Bucket collectors re-read from here (minus their look-back) on the next poll.
    collected_until = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ServingEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        # Never the key, not even encrypted.
        return f"<ServingEndpoint {self.pk} {self.name!r} {self.kind}>"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; refuse (:class:`UnsafeURL`) a ``base_url`` that is malformed or
        carries credentials, whichever path saves it.

        Only the checks that need no name lookup run here, so a save never waits
        on DNS; the full check is model validation's (:func:`validate_base_url`)
        and the clients', at connect time. Saves of other fields (poll state) skip
        it, so a row stored before this check can still record its failures.
        """
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "base_url" in update_fields:
            check_url_form(self.base_url)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("endpoints:detail", args=[self.pk])

    def clean_fields(self, exclude: Any = None) -> None:
        """Field checks, plus the SSRF guard on ``base_url``.

        Here rather than as a field validator, which would put the policy into a
        migration; skipped, like any field check, when ``base_url`` is excluded
        (a form field that already failed).
        """
        errors: dict[str, Any] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if "base_url" not in errors and (exclude is None or "base_url" not in exclude):
            try:
                validate_base_url(self.base_url)
            except ValidationError as exc:
                errors["base_url"] = exc.error_list
        if errors:
            raise ValidationError(errors)

    # Credentials.

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)

    def set_api_key(self, api_key: str | None) -> None:
        """Store ``api_key`` encrypted; an empty value removes it."""
        self.api_key_encrypted = crypto.encrypt(api_key) if api_key else ""

    def decrypt_api_key(self) -> str | None:
        """The plaintext key: call only where it is sent, never where it is shown."""
        if not self.api_key_encrypted:
            return None
        return crypto.decrypt(self.api_key_encrypted)

    # Cost basis and health.

    @property
    def is_self_hosted(self) -> bool:
        return self.hourly_cost is not None

    @property
    def vendor_name(self) -> str:
        if self.vendor:
            return self.vendor
        if self.kind in VENDOR_BY_KIND:
            return VENDOR_BY_KIND[self.kind]
        return "Self-hosted" if self.location == self.Location.IN_HOUSE else "External"

    @property
    def display_health(self) -> str:
        """``paused``, ``never``, or the health, downgraded when polls stopped coming."""
        if not self.enabled:
            return "paused"
        if self.last_success_at is None and self.health != self.Health.FAILING:
            return "never"
        if self.health == self.Health.OK and self.last_success_at is not None:
            late = timedelta(seconds=max(3 * self.poll_interval_seconds, 300))
            if timezone.now() - self.last_success_at > late:
                return self.Health.STALE
        return self.health

    def claim_lease(self) -> timedelta:
        """How long a claim holds before another poll may take the endpoint over.

        One poll interval: a task lost with the broker, or a killed worker, leaves
        the endpoint due again after it, so the next beat tick polls it within two
        intervals. A late poll that was taken over stores nothing.
        """
        return timedelta(seconds=min(self.poll_interval_seconds, 600))

    def record_success(self, *, polled_at: datetime, models: set[str]) -> None:
        """Set the poll state after a stored poll (saved by the caller, in bulk)."""
        self.health = self.Health.OK
        self.last_success_at = polled_at
        self.last_polled_at = polled_at
        self.last_error = ""
        self.consecutive_failures = 0
        self.next_poll_at = timezone.now() + timedelta(
            seconds=self.poll_interval_seconds
        )
        self.claim_token = ""
        self.served_models = sorted(set(self.served_models or []) | models)

    def record_failure(
        self, *, polled_at: datetime, message: str, keep_claim: bool = False
    ) -> None:
        """Stale at first, failing after :data:`FAILING_AFTER` failures in a row.

        ``keep_claim``: a retry of this poll follows (it renews the claim).
        """
        self.consecutive_failures += 1
        self.health = (
            self.Health.FAILING
            if self.consecutive_failures >= FAILING_AFTER
            else self.Health.STALE
        )
        self.last_error = message
        self.last_error_at = polled_at
        self.last_polled_at = polled_at
        self.next_poll_at = timezone.now() + timedelta(
            seconds=self.poll_interval_seconds
        )
        if not keep_claim:
            self.claim_token = ""

    POLL_FIELDS = (
        "health",
        "last_success_at",
        "last_polled_at",
        "last_error",
        "last_error_at",
        "consecutive_failures",
        "next_poll_at",
        "claim_token",
        "served_models",
        "collected_until",
    )

    def mapped_use_cases(self) -> list[UseCase]:
        """Use-cases of the (prefetched) mappings, each once."""
        seen: dict[int, UseCase] = {}
        for mapping in self.mappings.all():
            if mapping.use_case is not None:
                seen.setdefault(mapping.use_case.pk, mapping.use_case)
        return list(seen.values())


class EndpointMapping(models.Model):
    """Which use-case (and team) a slice of an endpoint's usage belongs to.

    Blank matchers match anything; the most specific matching mapping wins
    (served model name, then project id, then API key id), ties to the oldest.
    """

    endpoint = models.ForeignKey(
        ServingEndpoint, on_delete=models.CASCADE, related_name="mappings"
    )
    model_name = models.CharField(
        max_length=200, blank=True, help_text="Served model name; blank = any."
    )
    project_id = models.CharField(max_length=200, blank=True)
    api_key_id = models.CharField(max_length=200, blank=True)
    use_case = models.ForeignKey(
        UseCase,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="endpoint_mappings",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(use_case__isnull=False) | Q(team__isnull=False),
                name="endpoint_mapping_has_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.describe_match()} → {self.use_case or self.team}"

    def describe_match(self) -> str:
        parts = [
            f"{label} {value}"
            for label, value in (
                ("model", self.model_name),
                ("project", self.project_id),
                ("key", self.api_key_id),
            )
            if value
        ]
        return ", ".join(parts) or "all traffic"

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (bool(self.model_name), bool(self.project_id), bool(self.api_key_id))

    def matches(
        self, *, model: str, project_id: str | None, api_key_id: str | None
    ) -> bool:
        return (
            (not self.model_name or self.model_name == model)
            and (not self.project_id or self.project_id == (project_id or ""))
            and (not self.api_key_id or self.api_key_id == (api_key_id or ""))
        )

    @property
    def target_team_id(self) -> int | None:
        if self.team_id:
            return self.team_id
        return self.use_case.team_id if self.use_case is not None else None


def resolve_mapping(
    mappings: Sequence[EndpointMapping],
    *,
    model: str,
    project_id: str | None,
    api_key_id: str | None,
) -> tuple[int | None, int | None]:
    """(use_case_id, team_id) of the most specific matching mapping, or Nones."""
    best: EndpointMapping | None = None
    for mapping in mappings:
        if not mapping.matches(
            model=model, project_id=project_id, api_key_id=api_key_id
        ):
            continue
        if best is None or mapping.specificity > best.specificity:
            best = mapping
    if best is None:
        return (None, None)
    return (best.use_case_id, best.target_team_id)


class CounterState(models.Model):
    """The last raw value of one cumulative counter series, for deltas."""

    endpoint = models.ForeignKey(
        ServingEndpoint, on_delete=models.CASCADE, related_name="counter_states"
    )
    series = models.CharField(max_length=500)
    requests = models.FloatField(default=0)
    input_tokens = models.FloatField(default=0)
    output_tokens = models.FloatField(default=0)
    cached_input_tokens = models.FloatField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    observed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "series"], name="counter_state_unique_series"
            )
        ]

    def __str__(self) -> str:
        return self.series


class UsageSampleQuerySet(models.QuerySet["UsageSample"]):
    def visible_to(self, user: User) -> UsageSampleQuerySet:
        """Rows the user may read: everything, or those of visible use-cases."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.reads_everything:
            return self
        return self.filter(use_case__in=UseCase.objects.visible_to(user).values("pk"))


class UsageSample(models.Model):
    """Usage of one series of one endpoint in one time bucket; upserted, never added twice.

    ``measure = "cost"`` rows hold a provider's billed amount (OpenAI costs API,
    Anthropic cost report) for reconciliation; rollups and the usage API use
    ``usage`` rows only, so spend is never counted twice.
    """

    class Measure(models.TextChoices):
        USAGE = "usage", "Usage"
        COST = "cost", "Billed cost"
        # Gateway traffic to an endpoint whose collector counts it too: it says
        # which use-case the tokens belong to; the rollup moves them there.
        GATEWAY = "gateway", "Gateway attribution"

    endpoint = models.ForeignKey(
        ServingEndpoint, on_delete=models.CASCADE, related_name="samples"
    )
    series = models.CharField(max_length=500)
    bucket_start = models.DateTimeField()
    bucket_end = models.DateTimeField()
    measure = models.CharField(
        max_length=10, choices=Measure.choices, default=Measure.USAGE
    )
    model = models.CharField(max_length=200, blank=True, db_index=True)
    project_id = models.CharField(max_length=200, blank=True)
    api_key_id = models.CharField(max_length=200, blank=True)
    use_case = models.ForeignKey(
        UseCase,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="usage_samples",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requests = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    # Part of input_tokens: written to the prompt cache (5-minute / default, 1-hour).
    cache_write_tokens = models.BigIntegerField(default=0)
    cache_write_1h_tokens = models.BigIntegerField(default=0)
    service_tier = models.CharField(max_length=20, blank=True)
    # Reported by the source, priced from the catalogue, or allocated (self-hosted).
    cost = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    cost_reported = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UsageSampleQuerySet.as_manager()

    class Meta:
        ordering = ["-bucket_start", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "series", "bucket_start"],
                name="usage_sample_unique_bucket",
            )
        ]
        indexes = [
            models.Index(fields=["endpoint", "bucket_start"]),
            models.Index(fields=["use_case", "bucket_start"]),
        ]

    def __str__(self) -> str:
        return f"{self.series} @ {self.bucket_start:%Y-%m-%d %H:%M}"


class DailyUsageQuerySet(models.QuerySet):
    """Rollup rows (daily or monthly) the user may read."""

    def visible_to(self, user: User) -> DailyUsageQuerySet:
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.reads_everything:
            return self
        return self.filter(use_case__in=UseCase.objects.visible_to(user).values("pk"))


class DailyUsage(models.Model):
    """Per day, endpoint, use-case and model: the sums dashboards read.

    Recomputed whole from the samples for each day a poll touched, so it is always
    what the samples say (and a repeated recompute changes nothing). Self-hosted
    endpoints' hourly cost is spread over the day's rows by share of tokens; a day
    without tokens keeps the cost on one row without use-case (idle capacity).
    """

    date = models.DateField()
    endpoint = models.ForeignKey(
        ServingEndpoint, on_delete=models.CASCADE, related_name="daily_usage"
    )
    use_case = models.ForeignKey(
        UseCase,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="daily_usage",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=200, blank=True)
    vendor = models.CharField(max_length=80, blank=True)
    location = models.CharField(
        max_length=10, choices=ServingEndpoint.Location.choices, blank=True
    )
    requests = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=6, default=Decimal(0))

    objects = DailyUsageQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "endpoint_id", "pk"]
        indexes = [
            models.Index(fields=["date", "endpoint"]),
            models.Index(fields=["use_case", "date"]),
        ]
        verbose_name_plural = "daily usage"

    def __str__(self) -> str:
        return f"{self.date} {self.endpoint_id} {self.model}"


class MonthlyUsage(models.Model):
    """Per calendar month: the month's daily rows summed, for reports over long periods.

    Kept in step with :class:`DailyUsage` by the rollups (every day a poll rebuilds
    also rebuilds its month), so a year's report reads twelve rows a group instead
    of 365. ``month`` is the month's first day.
    """

    month = models.DateField()
    endpoint = models.ForeignKey(
        ServingEndpoint, on_delete=models.CASCADE, related_name="monthly_usage"
    )
    use_case = models.ForeignKey(
        UseCase,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="monthly_usage",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=200, blank=True)
    vendor = models.CharField(max_length=80, blank=True)
    location = models.CharField(
        max_length=10, choices=ServingEndpoint.Location.choices, blank=True
    )
    requests = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal(0))

    objects = DailyUsageQuerySet.as_manager()

    class Meta:
        ordering = ["-month", "endpoint_id", "pk"]
        indexes = [
            models.Index(fields=["month", "endpoint"]),
            models.Index(fields=["use_case", "month"]),
        ]
        verbose_name_plural = "monthly usage"

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.endpoint_id} {self.model}"


class PollEvent(models.Model):
    """One poll's outcome, kept for the endpoint's page (the last few per endpoint)."""

    KEEP = 50

    endpoint = models.ForeignKey(
        ServingEndpoint, on_delete=models.CASCADE, related_name="poll_events"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    ok = models.BooleanField()
    message = models.TextField(blank=True)
    readings = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {'ok' if self.ok else 'error'} {self.created_at}"


class DriftFlag(models.Model):
    """A use-case's live volume crossing a threshold, flagged once per crossing."""

    use_case = models.ForeignKey(
        UseCase, on_delete=models.CASCADE, related_name="drift_flags"
    )
    key = models.CharField(max_length=200)
    actual_requests_per_day = models.FloatField()
    threshold = models.FloatField()
    basis = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["use_case", "key"], name="drift_flag_once_per_crossing"
            )
        ]

    def __str__(self) -> str:
        return f"{self.use_case_id}: {self.key}"


class PortalCall(models.Model):
    """One call the portal sent itself (a playground answer, a test-set result).

    Written by the ledger's shared writer after the call, keyed by what the call
    was (``"run-output=12"``), so a retried flush or a re-attribution never
    counts it twice. The hourly :class:`UsageSample` of each (endpoint,
    use-case, model) is recomputed from these rows, so the cost of recording a
    call does not grow with the number of calls of the day.
    """

    key = models.CharField(max_length=100, unique=True)
    endpoint = models.ForeignKey(
        ServingEndpoint, on_delete=models.CASCADE, related_name="portal_calls"
    )
    # The call's own use-case (a run's attached one); None: the mappings decide.
    use_case = models.ForeignKey(
        UseCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=200)
    bucket_start = models.DateTimeField()
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    # Priced per call (None: self-hosted, or no price known).
    cost = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    # When the portal recorded this version of the call: an older one arriving
    # late (another process's spool) never overwrites a newer attribution.
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["endpoint", "bucket_start"])]

    def __str__(self) -> str:
        return self.key
