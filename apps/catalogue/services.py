"""Writes to the catalogue: seed loading, edits and price imports.

Each records a new `PriceSnapshot` in the same transaction, keeps the old version of
what it changed (simple-history) and, once committed, sends `catalogue_changed` so
the framework can re-assess.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from .models import TOKEN_PRICE_FIELDS, CatalogModel, GpuProfile, PriceSnapshot
from .signals import catalogue_changed, models_added

if TYPE_CHECKING:
    from apps.accounts.models import User

# The price fields an import may change, with the LiteLLM key each comes from.
LITELLM_PRICES: dict[str, str] = {
    "input_usd_per_mtok": "input_cost_per_token",
    "output_usd_per_mtok": "output_cost_per_token",
    "cached_input_usd_per_mtok": "cache_read_input_token_cost",
    "cache_write_usd_per_mtok": "cache_creation_input_token_cost",
    "cache_write_1h_usd_per_mtok": "cache_creation_input_token_cost_above_1hr",
    "batch_input_usd_per_mtok": "input_cost_per_token_batches",
    "batch_output_usd_per_mtok": "output_cost_per_token_batches",
    "priority_input_usd_per_mtok": "input_cost_per_token_priority",
    "priority_output_usd_per_mtok": "output_cost_per_token_priority",
    "priority_cached_input_usd_per_mtok": "cache_read_input_token_cost_priority",
    "flex_input_usd_per_mtok": "input_cost_per_token_flex",
    "flex_output_usd_per_mtok": "output_cost_per_token_flex",
    "flex_cached_input_usd_per_mtok": "cache_read_input_token_cost_flex",
}
# Long-context prices: LiteLLM names them "<price>_above_<N>k_tokens" (128k, 200k,
# 272k...), and charges them when the prompt has more than N thousand tokens.
LONG_CONTEXT_PRICES: dict[str, str] = {
    "long_context_input_usd_per_mtok": "input_cost_per_token",
    "long_context_output_usd_per_mtok": "output_cost_per_token",
    "long_context_cached_input_usd_per_mtok": "cache_read_input_token_cost",
    "long_context_cache_write_usd_per_mtok": "cache_creation_input_token_cost",
    "long_context_cache_write_1h_usd_per_mtok": (
        "cache_creation_input_token_cost_above_1hr"
    ),
}
_LONG_CONTEXT_KEY = re.compile(
    r"^(?P<price>"
    + "|".join(re.escape(k) for k in sorted(set(LONG_CONTEXT_PRICES.values())))
    + r")_above_(?P<thousands>\d+)k_tokens$"
)
_LITELLM_KEY_IN_SOURCE = re.compile(r"key '([^']+)'")


def _announce(snapshot: PriceSnapshot, reason: str) -> None:
    transaction.on_commit(
        lambda: catalogue_changed.send(
            sender=PriceSnapshot, snapshot=snapshot, reason=reason
        )
    )


def _announce_added(model_ids: list[int]) -> None:
    if model_ids:
        transaction.on_commit(
            lambda: models_added.send(sender=CatalogModel, model_ids=list(model_ids))
        )


def record_price_snapshot(
    *,
    source: str,
    by: User | None = None,
    date: dt.date | None = None,
    kind: str = "edit",
) -> PriceSnapshot:
    """A new snapshot naming the catalogue as it is after this change."""
    day = date or timezone.localdate()
    return PriceSnapshot.objects.create(
        key=f"{day.isoformat()}-{kind}-{secrets.token_hex(3)}",
        source=source[:2000],
        date=day,
        created_by=by,
    )


@transaction.atomic
def save_catalogue_model(
    *, model: CatalogModel, by: User | None, reason: str = ""
) -> PriceSnapshot:
    """Save an edited (or new) catalogue model and record the change."""
    created = model.pk is None
    what = f"{'added' if created else 'edited'} {model.name}"
    model._change_reason = (reason or what)[:100]  # type: ignore[attr-defined]
    model.save()
    who = by.username if by is not None else "system"
    snapshot = record_price_snapshot(
        source=f"Catalogue edit by {who}: {what}" + (f" ({reason})" if reason else ""),
        by=by,
    )
    _announce(snapshot, what)
    if created:
        _announce_added([model.pk])
    return snapshot


@transaction.atomic
def save_gpu_profile(
    *, profile: GpuProfile, by: User | None, reason: str = ""
) -> PriceSnapshot:
    """Save an edited (or new) GPU profile; a new default replaces the old one."""
    created = profile.pk is None
    what = f"{'added' if created else 'edited'} GPU profile {profile.name}"
    if profile.is_default:
        for other in GpuProfile.objects.filter(is_default=True).exclude(pk=profile.pk):
            other.is_default = False
            other._change_reason = f"default moved to {profile.key}"  # type: ignore[attr-defined]
            other.save(update_fields=["is_default", "updated_at"])
    profile._change_reason = (reason or what)[:100]  # type: ignore[attr-defined]
    profile.save()
    who = by.username if by is not None else "system"
    snapshot = record_price_snapshot(
        source=f"Catalogue edit by {who}: {what}" + (f" ({reason})" if reason else ""),
        by=by,
    )
    _announce(snapshot, what)
    return snapshot


def _litellm_key(item: Mapping[str, Any]) -> str:
    match = _LITELLM_KEY_IN_SOURCE.search(item.get("price_source") or "")
    return match.group(1) if match else ""


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _seed_price(item: Mapping[str, Any], key: str, name: str) -> Decimal | None:
    value = item.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"Model {key}: {name} must be a number of at least 0.")
    return Decimal(str(value))


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@transaction.atomic
def load_catalogue_data(
    *, data: Mapping[str, Any], by: User | None = None
) -> tuple[PriceSnapshot, bool]:
    """Load a catalogue in the seed_catalogue.json shape; idempotent by snapshot id.

    Validated by the engine first, so a bad file changes nothing. Returns the
    snapshot and whether anything was loaded.
    """
    # The engine is pure Python (no Django), so the catalogue may use its parser.
    from apps.framework.engine import load_catalogue

    parsed = load_catalogue(data)
    existing = PriceSnapshot.objects.filter(key=parsed.snapshot.id).first()
    if existing is not None:
        return existing, False
    gpus: dict[str, GpuProfile] = {}
    for gpu in parsed.gpu_profiles:
        values = gpu.as_dict()
        key = values.pop("key")
        values["usd_per_gpu_hour"] = _decimal(values["usd_per_gpu_hour"])
        values["price_date"] = _date(values["price_date"])
        values["is_default"] = key == parsed.default_gpu_profile
        if values["is_default"]:
            GpuProfile.objects.filter(is_default=True).exclude(key=key).update(
                is_default=False
            )
        gpus[key], _ = GpuProfile.objects.update_or_create(key=key, defaults=values)
    raw_models = {m.get("key"): m for m in data.get("models", [])}
    for spec in parsed.models:
        values = spec.as_dict()
        key = values.pop("key")
        for name in TOKEN_PRICE_FIELDS:
            # Prices the engine does not model are read from the file itself.
            values[name] = (
                _decimal(values[name])
                if name in values
                else _seed_price(raw_models.get(key, {}), key, name)
            )
        values["params_b"] = _decimal(values["params_b"])
        values["price_date"] = _date(values["price_date"])
        values["deprecation_date"] = _date(values["deprecation_date"])
        values["gpu_profile"] = gpus.get(values["gpu_profile"] or "")
        values["litellm_key"] = _litellm_key(raw_models.get(key, {}))
        values["active"] = True
        CatalogModel.objects.update_or_create(key=key, defaults=values)
    snapshot = PriceSnapshot.objects.create(
        key=parsed.snapshot.id,
        source=parsed.snapshot.source,
        date=dt.date.fromisoformat(parsed.snapshot.date),
        created_by=by,
    )
    _announce(snapshot, "catalogue loaded")
    return snapshot, True


@dataclass
class PriceImport:
    """What an import of a LiteLLM price file found and changed."""

    snapshot: PriceSnapshot | None = None
    matched: list[str] = field(default_factory=list)
    changed: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Keys of models the file added to a family already in the catalogue.
    added: list[str] = field(default_factory=list)


def _per_mtok(value: Any) -> Decimal | None:
    """USD a token (LiteLLM) to USD a million tokens, or None when not a price."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return (Decimal(str(value)) * 1_000_000).quantize(Decimal("0.000001"))


def _price(
    entry: Mapping[str, Any], litellm_name: str, warnings: list[str], where: str
) -> Decimal | None:
    value = entry.get(litellm_name)
    if value is None:
        return None
    price = _per_mtok(value)
    if price is None:
        warnings.append(
            f"{where}: {litellm_name} is not a price ({value!r}); left unchanged."
        )
    return price


def _long_context_values(
    entry: Mapping[str, Any], warnings: list[str], where: str
) -> dict[str, Any]:
    """The long-context tier of an entry: its threshold and prices, or nothing.

    Only one tier is kept, the lowest; the tier's prices are set together (a
    price the tier does not list is cleared), so no price of an old tier remains.
    """
    tiers: dict[int, dict[str, str]] = {}
    for litellm_name in entry:
        match = _LONG_CONTEXT_KEY.match(litellm_name)
        if match:
            threshold = int(match["thousands"]) * 1000
            tiers.setdefault(threshold, {})[match["price"]] = litellm_name
    if not tiers:
        return {}
    threshold = min(tiers)
    if len(tiers) > 1:
        ignored = ", ".join(f"{t:,}" for t in sorted(tiers) if t != threshold)
        warnings.append(
            f"{where}: only the long-context prices above {threshold:,} tokens are "
            f"kept; those above {ignored} are ignored."
        )
    keys = tiers[threshold]
    values: dict[str, Any] = {"long_context_threshold_tokens": threshold}
    for name, base in LONG_CONTEXT_PRICES.items():
        values[name] = (
            _price(entry, keys[base], warnings, where) if base in keys else None
        )
    return values


def _import_values(
    entry: Mapping[str, Any], warnings: list[str], where: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, litellm_name in LITELLM_PRICES.items():
        price = _price(entry, litellm_name, warnings, where)
        if price is not None:
            values[name] = price
    values.update(_long_context_values(entry, warnings, where))
    window = entry.get("max_input_tokens")
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        values["context_window"] = window
    deprecation = entry.get("deprecation_date")
    if isinstance(deprecation, str):
        with contextlib.suppress(ValueError):  # LiteLLM's free text is ignored
            values["deprecation_date"] = dt.date.fromisoformat(deprecation)
    return values


@transaction.atomic
def import_litellm_prices(
    *,
    prices: Mapping[str, Any],
    source: str,
    date: dt.date | None = None,
    by: User | None = None,
    dry_run: bool = False,
    add_family_members: bool = False,
) -> PriceImport:
    """Refresh token prices from a LiteLLM `model_prices_and_context_window.json`.

    Models are matched on `litellm_key` (else `key`); only fields the file carries
    are changed, except that a long-context tier replaces the old one whole. A
    price that is not a non-negative number is left unchanged and reported in
    `warnings`. With `add_family_members`, chat entries whose name starts with a
    catalogue `family` are added as new models of it (see
    :func:`_add_family_members`). One snapshot is recorded when anything changed
    (none on a dry run).
    """
    if not isinstance(prices, Mapping):
        raise ValueError("The price file must be a JSON object keyed by model name.")
    day = date or timezone.localdate()
    report = PriceImport()
    for model in CatalogModel.objects.select_for_update().order_by("key"):
        name = model.litellm_key or model.key
        entry = prices.get(name)
        if not isinstance(entry, Mapping):
            if model.input_usd_per_mtok is not None:
                report.unmatched.append(model.key)
            continue
        report.matched.append(model.key)
        found = _import_values(entry, report.warnings, f"{model.key} ('{name}')")
        changes = {
            field_name: (getattr(model, field_name), value)
            for field_name, value in found.items()
            if getattr(model, field_name) != value
        }
        if not changes:
            continue
        report.changed[model.key] = changes
        if dry_run:
            continue
        for field_name, (_old, new) in changes.items():
            setattr(model, field_name, new)
        model.price_source = f"{source}, key '{name}'"[:2000]
        model.price_date = day
        model._change_reason = f"prices imported from {source}"[:100]  # type: ignore[attr-defined]
        model.save()
    added: list[CatalogModel] = []
    if add_family_members:
        added = _add_family_members(
            prices=prices, source=source, day=day, report=report, dry_run=dry_run
        )
    if (report.changed or report.added) and not dry_run:
        report.snapshot = record_price_snapshot(
            source=f"{source}: {len(report.changed)} model(s) changed"
            + (f", {len(report.added)} added" if report.added else ""),
            by=by,
            date=day,
            kind="litellm",
        )
        _announce(report.snapshot, "prices imported")
        _announce_added([m.pk for m in added])
    return report


def _family_for(name: str, families: list[str]) -> str | None:
    """The longest family ``name`` belongs to (its name, provider prefix aside,
    starts with the family followed by a separator or the end)."""
    bare = name.rsplit("/", 1)[-1].lower()
    for family in sorted(families, key=len, reverse=True):
        if bare == family or (bare.startswith(family) and bare[len(family)] in "-_.:@"):
            return family
    return None


def _add_family_members(
    *,
    prices: Mapping[str, Any],
    source: str,
    day: dt.date,
    report: PriceImport,
    dry_run: bool,
) -> list[CatalogModel]:
    """Add the file's chat models that are new members of a catalogue family.

    A new member copies provider, weights, tier and hosting from the family's
    newest model (the file says nothing of capability), takes its prices and
    context from the file, its release date from the import's date, and becomes
    the successor of family members that have an end date and no successor yet.
    """
    members: dict[str, list[CatalogModel]] = {}
    known: set[str] = set()
    for model in CatalogModel.objects.order_by("pk"):
        known |= {model.key.lower(), (model.litellm_key or model.key).lower()}
        if model.family:
            members.setdefault(model.family.lower(), []).append(model)
    if not members:
        return []
    added: list[CatalogModel] = []
    for name in sorted(prices):
        entry = prices[name]
        if not isinstance(entry, Mapping) or name.lower() in known:
            continue
        if entry.get("mode", "chat") != "chat":
            continue
        family = _family_for(name, list(members))
        if family is None:
            continue
        where = f"new model '{name}'"
        values = _import_values(entry, report.warnings, where)
        if "input_usd_per_mtok" not in values or "context_window" not in values:
            report.warnings.append(
                f"{where}: no input price or context window; not added."
            )
            continue
        if len(name) > CatalogModel._meta.get_field("key").max_length:  # type: ignore[operator]
            report.warnings.append(f"{where}: the name is too long; not added.")
            continue
        report.added.append(name)
        if dry_run:
            continue
        template = max(
            members[family], key=lambda m: (m.release_date or dt.date.min, m.pk)
        )
        model = CatalogModel(
            key=name,
            name=name.rsplit("/", 1)[-1],
            provider=template.provider,
            open_weights=template.open_weights,
            capability_tier=template.capability_tier,
            hosting=list(template.hosting or []),
            hosted_by=template.hosted_by,
            family=template.family,
            release_date=day,
            litellm_key=name,
            price_source=f"{source}, key '{name}'"[:2000],
            price_date=day,
            **values,
        )
        model._change_reason = f"added by price import from {source}"[:100]  # type: ignore[attr-defined]
        model.save()
        for older in members[family]:
            if older.successor_id is None and older.end_date() is not None:
                older.successor = model
                older._change_reason = f"successor {name} added"[:100]  # type: ignore[attr-defined]
                older.save(update_fields=["successor", "updated_at"])
        members[family].append(model)
        known.add(name.lower())
        added.append(model)
    return added
