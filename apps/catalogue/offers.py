"""Managed offers: more than one cloud hosting the same open model.

A catalogue model's own per-token prices and ``hosted_by`` stay its primary
host's (the catalogue pages and ``import_prices`` keep editing them); each
``ManagedOffer`` adds a host with its own prices, regions and data-residency note,
and policy's mark of whether its region and tenancy count as inside our
infrastructure. The offer whose provider is the model's ``hosted_by`` carries
that host's regions, note and mark, and takes its prices from the model.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from .models import CatalogModel


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class ManagedOfferQuerySet(models.QuerySet["ManagedOffer"]):
    def for_engine(self) -> ManagedOfferQuerySet:
        return self.filter(active=True, model__active=True).select_related("model")


class ManagedOffer(models.Model):
    """One cloud's serverless offer of an open catalogue model."""

    model = models.ForeignKey(
        CatalogModel, on_delete=models.CASCADE, related_name="managed_offers"
    )
    provider = models.CharField(
        max_length=120, help_text="Who sells the tokens, e.g. AWS Bedrock."
    )
    input_usd_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, validators=[MinValueValidator(0)]
    )
    output_usd_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, validators=[MinValueValidator(0)]
    )
    cached_input_usd_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True
    )
    batch_input_usd_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True
    )
    batch_output_usd_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True
    )
    regions = models.JSONField(default=list, blank=True)
    data_residency = models.TextField(
        blank=True, help_text="Where data is processed and stored, in words."
    )
    inside_our_infrastructure = models.BooleanField(
        default=False,
        help_text="Policy: this region and tenancy count as ours, so data that "
        "must stay in-house may use it.",
    )
    price_source = models.CharField(max_length=300)
    price_date = models.DateField()
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ManagedOfferQuerySet.as_manager()

    class Meta:
        ordering = ["model__key", "provider"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "provider"], name="one_offer_per_model_and_host"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model.key} on {self.provider}"

    def as_engine_dict(self) -> dict[str, Any]:
        """The engine's ManagedOffer shape; the primary host's prices come from
        its model, which the catalogue pages and price imports maintain."""
        model = self.model
        primary = self.provider == model.hosted_by
        source = model if primary else self
        return {
            "provider": self.provider,
            "input_usd_per_mtok": _float(source.input_usd_per_mtok),
            "output_usd_per_mtok": _float(source.output_usd_per_mtok),
            "cached_input_usd_per_mtok": _float(source.cached_input_usd_per_mtok),
            "batch_input_usd_per_mtok": _float(source.batch_input_usd_per_mtok),
            "batch_output_usd_per_mtok": _float(source.batch_output_usd_per_mtok),
            "regions": list(self.regions or []),
            "data_residency": self.data_residency,
            "inside_our_infrastructure": self.inside_our_infrastructure,
            "price_source": source.price_source,
            "price_date": (source.price_date or self.price_date).isoformat(),
        }


@receiver(post_save, sender=ManagedOffer)
@receiver(post_delete, sender=ManagedOffer)
def touch_model(sender: type, instance: ManagedOffer, **kwargs: Any) -> None:
    """An offer's change is its model's: the catalogue version (the last model
    change) moves, so cached engine catalogues are rebuilt."""
    CatalogModel.objects.filter(pk=instance.model_id).update(updated_at=timezone.now())
