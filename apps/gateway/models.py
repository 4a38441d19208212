"""Gateway keys, the per-request metering ledger and the opt-in request log.

A key belongs to one use-case; only the SHA-256 of its secret is stored. The
gateway writes one :class:`GatewayUsage` row per answered request (keyed by the
request id, so a retried flush never counts twice) and folds them into the
usage ledger's hourly samples. Prompts and answers are never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from apps.endpoints.models import ServingEndpoint
from apps.usecases.models import UseCase


class GatewayKeyQuerySet(models.QuerySet["GatewayKey"]):
    def active(self) -> GatewayKeyQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class GatewayKey(models.Model):
    """A bearer key an application sends to the gateway, bound to one use-case."""

    PREFIX = "pgw_"

    use_case = models.ForeignKey(
        UseCase, on_delete=models.CASCADE, related_name="gateway_keys"
    )
    name = models.CharField(max_length=100)
    # The first characters of the secret, shown to tell keys apart.
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    tokens_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = GatewayKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def new_secret(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > now
        )


class GatewaySettings(models.Model):
    """Per use-case gateway options (privacy: nothing but metering by default)."""

    use_case = models.OneToOneField(
        UseCase, on_delete=models.CASCADE, related_name="gateway_settings"
    )
    log_requests = models.BooleanField(
        default=False,
        help_text="Keep a request log with metadata only (time, key, route, tokens, "
        "latency, status). Prompts and answers are never stored.",
    )

    def __str__(self) -> str:
        return f"Gateway settings of {self.use_case_id}"


class GatewayUsage(models.Model):
    """One answered gateway request's usage: what metering needs and no more.

    Unique on ``request_id``, so a flush retried after a crash inserts nothing
    twice; the ledger's hourly sample of (endpoint, use-case, workload, model) is
    then recomputed from these rows, never incremented.
    """

    request_id = models.CharField(max_length=40, unique=True)
    use_case = models.ForeignKey(
        UseCase, on_delete=models.CASCADE, related_name="gateway_usage"
    )
    workload = models.CharField(max_length=30, blank=True)
    endpoint = models.ForeignKey(
        ServingEndpoint, on_delete=models.CASCADE, related_name="gateway_usage"
    )
    model = models.CharField(max_length=200)
    bucket_start = models.DateTimeField()
    requests = models.PositiveIntegerField(default=1)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    # Priced per request like the rest of the ledger (None: no price; self-hosted
    # endpoints get their share of the hourly cost in the daily rollup).
    cost = models.DecimalField(max_digits=16, decimal_places=6, null=True, blank=True)
    # The upstream reported no usage: the gateway counted the tokens itself.
    estimated = models.BooleanField(default=False)
    # Time from the request's arrival to the end of its answer (latency panels).
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["endpoint", "bucket_start"]),
            models.Index(fields=["use_case", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.request_id


class GatewayRequestLog(models.Model):
    """Metadata of one request, kept only for use-cases that turned the log on."""

    request_id = models.CharField(max_length=40, unique=True)
    use_case = models.ForeignKey(
        UseCase, on_delete=models.CASCADE, related_name="gateway_requests"
    )
    key = models.ForeignKey(
        GatewayKey, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(db_index=True)
    workload = models.CharField(max_length=30, blank=True)
    endpoint = models.ForeignKey(
        ServingEndpoint, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=200, blank=True)
    status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=40, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.request_id} {self.status}"
