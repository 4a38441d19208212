"""The model catalogue, GPU profiles and the dated price snapshots they come from.

Every edit keeps the old version (django-simple-history), and every change of prices
or models goes through `apps.catalogue.services`, which records a new
`PriceSnapshot`: the latest snapshot names the catalogue an assessment used.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import connection, models
from simple_history.models import HistoricalRecords

HOSTING_CHOICES = [
    ("api", "Proprietary API"),
    ("managed", "Managed open-source (per token)"),
    ("self_hosted", "Self-hosted on our GPUs"),
]
PRICE = {
    "max_digits": 14,
    "decimal_places": 6,
    "null": True,
    "blank": True,
    "validators": [MinValueValidator(Decimal(0))],
}


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


class PriceSnapshotQuerySet(models.QuerySet["PriceSnapshot"]):
    def current(self) -> PriceSnapshot | None:
        return self.order_by("-pk").first()


class PriceSnapshot(models.Model):
    """A dated version of the catalogue's prices: where they came from and when.

    A new one is recorded by every import and every edit, so an assessment can say
    which prices it used (`key`) and a price change can trigger re-assessment.
    """

    key = models.CharField(max_length=120, unique=True)
    source = models.TextField()
    date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = PriceSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        get_latest_by = "pk"

    def __str__(self) -> str:
        return f"{self.key} ({self.date:%d %b %Y})"


class GpuProfile(models.Model):
    """A rentable GPU at a dated hourly price, with serving sizes by model size.

    `sizes` is a list of serving sizes in the engine's shape (max_params_b,
    gpus_per_replica, prefill/decode tokens a second, slo_efficiency, ...).
    """

    key = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    gpu = models.CharField(max_length=80)
    memory_gb = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    usd_per_gpu_hour = models.DecimalField(
        max_digits=10, decimal_places=4, validators=[MinValueValidator(Decimal(0))]
    )
    provider = models.CharField(max_length=200)
    provisioning = models.CharField(max_length=80)
    price_source = models.TextField()
    price_date = models.DateField()
    sizes = models.JSONField(default=list)
    is_default = models.BooleanField(
        default=False, help_text="Used for self-hosted models that name no profile."
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["usd_per_gpu_hour", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="catalogue_one_default_gpu_profile",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def as_engine_dict(self) -> dict[str, Any]:
        """The engine's GpuProfile shape (see apps/framework/engine/catalogue.py)."""
        return {
            "key": self.key,
            "name": self.name,
            "gpu": self.gpu,
            "memory_gb": self.memory_gb,
            "usd_per_gpu_hour": float(self.usd_per_gpu_hour),
            "provider": self.provider,
            "provisioning": self.provisioning,
            "price_source": self.price_source,
            "price_date": _iso(self.price_date),
            "sizes": list(self.sizes or []),
        }


class CatalogModelQuerySet(models.QuerySet["CatalogModel"]):
    def active(self) -> CatalogModelQuerySet:
        return self.filter(active=True)

    def for_list(self) -> CatalogModelQuerySet:
        return self.select_related("gpu_profile", "successor")

    def ending_by(self, day: dt.date) -> CatalogModelQuerySet:
        """Models deprecated or retired by ``day`` (or marked so without a date)."""
        Status = CatalogModel.LifecycleStatus
        return self.filter(
            models.Q(deprecation_date__lte=day)
            | models.Q(retirement_date__lte=day)
            | models.Q(status__in=[Status.DEPRECATED, Status.RETIRED])
        )


# Every per-token price of a catalogue model (USD per million tokens); the
# long-context ones apply above `long_context_threshold_tokens`.
# `apps.endpoints.pricing` reads them; forms and the API list them in this order.
STANDARD_PRICE_FIELDS = (
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cached_input_usd_per_mtok",
    "cache_write_usd_per_mtok",
    "cache_write_1h_usd_per_mtok",
    "batch_input_usd_per_mtok",
    "batch_output_usd_per_mtok",
    "priority_input_usd_per_mtok",
    "priority_output_usd_per_mtok",
    "priority_cached_input_usd_per_mtok",
    "flex_input_usd_per_mtok",
    "flex_output_usd_per_mtok",
    "flex_cached_input_usd_per_mtok",
)
LONG_CONTEXT_PRICE_FIELDS = (
    "long_context_input_usd_per_mtok",
    "long_context_output_usd_per_mtok",
    "long_context_cached_input_usd_per_mtok",
    "long_context_cache_write_usd_per_mtok",
    "long_context_cache_write_1h_usd_per_mtok",
)
TOKEN_PRICE_FIELDS = STANDARD_PRICE_FIELDS + LONG_CONTEXT_PRICE_FIELDS
# As forms, the API and CSV show them: the threshold before the prices it gates.
PRICE_FIELDS = (
    *STANDARD_PRICE_FIELDS,
    "long_context_threshold_tokens",
    *LONG_CONTEXT_PRICE_FIELDS,
)


class CatalogModel(models.Model):
    """A model and how it can be bought or run, at dated per-token prices.

    Prices are USD per million tokens; `litellm_key` names the model in a LiteLLM
    `model_prices_and_context_window.json` file so `import_prices` can refresh it.
    Cache reads and writes, batch / priority / flex service tiers and prompts above
    `long_context_threshold_tokens` have prices of their own when the provider
    lists them (see docs/usage-collection.md, "Prices").
    """

    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        ADVANCED = "advanced", "Advanced"
        FRONTIER = "frontier", "Frontier"

    class LifecycleStatus(models.TextChoices):
        PREVIEW = "preview", "Preview"
        GA = "ga", "Generally available"
        DEPRECATED = "deprecated", "Deprecated"
        RETIRED = "retired", "Retired"

    key = models.CharField(max_length=120, unique=True)
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=120)
    open_weights = models.BooleanField(default=False)
    capability_tier = models.CharField(max_length=20, choices=Tier.choices)
    context_window = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    hosting = models.JSONField(
        default=list, help_text="Any of api, managed, self_hosted."
    )
    input_usd_per_mtok = models.DecimalField(**PRICE)
    output_usd_per_mtok = models.DecimalField(**PRICE)
    cached_input_usd_per_mtok = models.DecimalField(**PRICE)
    batch_input_usd_per_mtok = models.DecimalField(**PRICE)
    batch_output_usd_per_mtok = models.DecimalField(**PRICE)
    cache_write_usd_per_mtok = models.DecimalField(
        **PRICE, help_text="Cache writes kept 5 minutes (the default)."
    )
    cache_write_1h_usd_per_mtok = models.DecimalField(
        **PRICE, help_text="Cache writes kept 1 hour."
    )
    priority_input_usd_per_mtok = models.DecimalField(**PRICE)
    priority_output_usd_per_mtok = models.DecimalField(**PRICE)
    priority_cached_input_usd_per_mtok = models.DecimalField(**PRICE)
    flex_input_usd_per_mtok = models.DecimalField(**PRICE)
    flex_output_usd_per_mtok = models.DecimalField(**PRICE)
    flex_cached_input_usd_per_mtok = models.DecimalField(**PRICE)
    long_context_threshold_tokens = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Prompts above this many tokens are charged the long-context prices.",
    )
    long_context_input_usd_per_mtok = models.DecimalField(**PRICE)
    long_context_output_usd_per_mtok = models.DecimalField(**PRICE)
    long_context_cached_input_usd_per_mtok = models.DecimalField(**PRICE)
    long_context_cache_write_usd_per_mtok = models.DecimalField(**PRICE)
    long_context_cache_write_1h_usd_per_mtok = models.DecimalField(**PRICE)
    hosted_by = models.CharField(max_length=120, blank=True)
    price_source = models.TextField(blank=True)
    price_date = models.DateField(null=True, blank=True)
    # Lifecycle (docs/lifecycle.md): the stored status is what platform set;
    # `status_on(day)` also reads the dates, so a passed date needs no edit.
    release_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=LifecycleStatus.choices, default=LifecycleStatus.GA
    )
    deprecation_date = models.DateField(null=True, blank=True)
    retirement_date = models.DateField(
        null=True, blank=True, help_text="When the provider stops serving it."
    )
    family = models.CharField(
        max_length=120,
        blank=True,
        db_index=True,
        help_text="Models of one line (e.g. gpt-4o); a price import adds new members.",
    )
    successor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="predecessors",
        help_text="The model suggested when this one is deprecated.",
    )
    params_b = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Billions of parameters (self-hosted sizing).",
    )
    precision = models.CharField(max_length=20, blank=True)
    gpu_profile = models.ForeignKey(
        GpuProfile,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="models",
    )
    litellm_key = models.CharField(max_length=200, blank=True, db_index=True)
    active = models.BooleanField(
        default=True, help_text="Inactive models are kept but never recommended."
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = CatalogModelQuerySet.as_manager()

    class Meta:
        ordering = ["provider", "name"]
        verbose_name = "catalogue model"

    def __str__(self) -> str:
        return self.name

    def as_engine_dict(self) -> dict[str, Any]:
        """The engine's ModelSpec shape; `gpu_profile` needs select_related."""
        return {
            "key": self.key,
            "name": self.name,
            "provider": self.provider,
            "open_weights": self.open_weights,
            "capability_tier": self.capability_tier,
            "context_window": self.context_window,
            "hosting": list(self.hosting or []),
            "input_usd_per_mtok": _float(self.input_usd_per_mtok),
            "output_usd_per_mtok": _float(self.output_usd_per_mtok),
            "cached_input_usd_per_mtok": _float(self.cached_input_usd_per_mtok),
            "batch_input_usd_per_mtok": _float(self.batch_input_usd_per_mtok),
            "batch_output_usd_per_mtok": _float(self.batch_output_usd_per_mtok),
            "long_context_threshold_tokens": self.long_context_threshold_tokens,
            "long_context_input_usd_per_mtok": _float(
                self.long_context_input_usd_per_mtok
            ),
            "hosted_by": self.hosted_by,
            "price_source": self.price_source,
            "price_date": _iso(self.price_date),
            "deprecation_date": _iso(self.deprecation_date),
            "params_b": _float(self.params_b),
            "precision": self.precision,
            "gpu_profile": self.gpu_profile.key if self.gpu_profile_id else None,
        }

    def status_on(self, day: dt.date) -> str:
        """The lifecycle status on ``day``: a passed retirement or deprecation
        date outranks the stored status."""
        Status = self.LifecycleStatus
        if self.status == Status.RETIRED or (
            self.retirement_date and self.retirement_date <= day
        ):
            return Status.RETIRED
        if self.status == Status.DEPRECATED or (
            self.deprecation_date and self.deprecation_date <= day
        ):
            return Status.DEPRECATED
        return self.status

    def end_date(self) -> dt.date | None:
        """The first date the model stops being a safe choice (deprecation or
        retirement), None when none is known."""
        dates = [d for d in (self.deprecation_date, self.retirement_date) if d]
        return min(dates) if dates else None

    def hosting_labels(self) -> list[str]:
        labels = dict(HOSTING_CHOICES)
        return [labels.get(h, h) for h in self.hosting or []]


def catalogue_version() -> tuple[Any, ...]:
    """What the catalogue's content depends on, read in one small query.

    The latest snapshot plus the last change of any model or GPU profile, so a
    change made outside the services (admin, shell) still invalidates caches.
    Plain SQL: it runs on every evaluation, and compiling the ORM query would
    cost more than running it. Empty when no snapshot exists.
    """
    quote = connection.ops.quote_name
    snapshot = quote(PriceSnapshot._meta.db_table)
    model = quote(CatalogModel._meta.db_table)
    gpu = quote(GpuProfile._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {snapshot}), "
            f"(SELECT MAX(updated_at) FROM {model}), "
            f"(SELECT MAX(updated_at) FROM {gpu})"
        )
        row = cursor.fetchone()
    return tuple(row) if row and row[0] is not None else ()


from .offers import ManagedOffer  # noqa: E402, F401  # a model of its own module
