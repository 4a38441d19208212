"""Helpers for the portfolio tests: raw usage samples, rolled up the endpoints way.

Every figure the tests expect is computed from the raw samples they wrote, never
from the rollups the pages read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.endpoints.models import ServingEndpoint, UsageSample
from apps.endpoints.services import rollup_day
from apps.framework.models import Assessment, Policy
from apps.portfolio.queries import utc_today
from apps.reviews.models import Decision
from apps.usecases.models import UseCase
from tests.factories import ServingEndpointFactory


@dataclass
class Usage:
    """Writes samples, remembers them, and rolls their days up."""

    samples: list[UsageSample] = field(default_factory=list)
    _serial: int = 0

    def endpoint(self, kind: str = "openai", **kwargs: Any) -> ServingEndpoint:
        defaults = {"location": "external" if kind != "vllm" else "in_house"}
        return ServingEndpointFactory(kind=kind, **{**defaults, **kwargs})

    def add(
        self,
        *,
        endpoint: ServingEndpoint,
        use_case: UseCase | None,
        day: date,
        requests: int,
        cost: str | Decimal,
        model: str = "gpt-4o",
        hour: int = 10,
        team: Any = None,
    ) -> UsageSample:
        self._serial += 1
        start = datetime.combine(day, time(hour), tzinfo=UTC)
        sample = UsageSample.objects.create(
            endpoint=endpoint,
            series=f"s{self._serial}",
            bucket_start=start,
            bucket_end=start + timedelta(hours=1),
            model=model,
            use_case=use_case,
            team=team if team is not None else (use_case.team if use_case else None),
            requests=requests,
            input_tokens=requests * 100,
            output_tokens=requests * 10,
            cost=Decimal(cost),
        )
        self.samples.append(sample)
        return sample

    def rollup(self) -> None:
        """Run the endpoints app's rollup for every (endpoint, day) written."""
        done = set()
        for sample in self.samples:
            key = (sample.endpoint_id, sample.bucket_start.astimezone(UTC).date())
            if key not in done:
                done.add(key)
                rollup_day(endpoint=sample.endpoint, day=key[1])

    def total(self, **conditions: Any) -> Decimal:
        """Sum of raw sample costs matching ``conditions`` (callables on a sample)."""
        return sum(
            (s.cost for s in self.samples if all(c(s) for c in conditions.values())),
            Decimal(0),
        )


@pytest.fixture
def usage(db) -> Usage:  # type: ignore[no-untyped-def]
    return Usage()


@pytest.fixture(autouse=True)
def _midday(midday: datetime) -> None:
    """Every portfolio test runs at noon UTC: "this month" and "today" hold still."""


@pytest.fixture
def today() -> date:
    return utc_today()


def assess(
    use_case: UseCase, outcome: str, monthly_cost: str | None = None
) -> Assessment:
    return Assessment.objects.create(
        use_case=use_case,
        trigger="submit",
        inputs={},
        policy_version=Policy.objects.current(),
        price_snapshot="test",
        outcome=outcome,
        result={"outcome": outcome},
        monthly_cost=Decimal(monthly_cost) if monthly_cost is not None else None,
        fingerprint=f"{use_case.pk}-{outcome}-{monthly_cost}",
    )


def decide(use_case: UseCase, pattern: str, by: Any) -> Decision:
    return Decision.objects.create(
        use_case=use_case, outcome="approved", pattern=pattern, decided_by=by
    )
