"""`/api/v1/spend/focus/`: spend as FinOps FOCUS 1.x CSV, read back with DictReader.

The ledger (figures by hand): on D1 an OpenAI endpoint serves the router 1.234567
(1,000 + 100 tokens) and discharge notes 0.333333 (300 + 30); on D2 the router
2.000001 (10 + 1). A self-hosted vLLM box at 2.50 an hour costs 60.00 a day: on
D1 split 3,000 : 1,000 tokens → router 45.00, notes 15.00; on D2 it serves
nothing → one idle-capacity row of 60.00. Everything: 123.567901.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from apps.endpoints.models import ServingEndpoint, UsageSample
from apps.endpoints.services import rollup_day
from tests.factories import ServingEndpointFactory, UseCaseFactory

FOCUS = "/api/v1/spend/focus/"
REQUIRED = {
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ServiceCategory",
    "ServiceName",
    "ProviderName",
    "ResourceId",
    "ConsumedQuantity",
    "ConsumedUnit",
    "Tags",
}


def _sample(endpoint, day, *, model, use_case, tokens, cost=None):  # type: ignore[no-untyped-def]
    start = datetime.combine(day, time(10), tzinfo=UTC)
    return UsageSample.objects.create(
        endpoint=endpoint,
        series=f"{model}-{use_case.pk}-{day}",
        bucket_start=start,
        bucket_end=start + timedelta(hours=1),
        model=model,
        use_case=use_case,
        team=use_case.team,
        requests=1,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost=None if cost is None else Decimal(cost),
    )


@pytest.fixture
def days(today):  # type: ignore[no-untyped-def]
    return today - timedelta(days=10), today - timedelta(days=9)


@pytest.fixture
def ledger(db, alice, carol, days):  # type: ignore[no-untyped-def]
    d1, d2 = days
    router = UseCaseFactory(
        title="Email router",
        owner=alice,
        status="live",
        workloads=[("summarisation", 60), ("classification", 40)],
    )
    notes = UseCaseFactory(title="@SUM(A1) notes", owner=carol, status="live")
    openai: ServingEndpoint = ServingEndpointFactory(
        name='=HYPERLINK("http://evil")', kind="openai", location="external"
    )
    gpu: ServingEndpoint = ServingEndpointFactory(
        name="GPU box", kind="vllm", hourly_cost=Decimal("2.5")
    )
    _sample(
        openai, d1, model="gpt-4o", use_case=router, tokens=(1000, 100), cost="1.234567"
    )
    _sample(
        openai,
        d1,
        model="gpt-4o-mini",
        use_case=notes,
        tokens=(300, 30),
        cost="0.333333",
    )
    _sample(
        openai, d2, model="gpt-4o", use_case=router, tokens=(10, 1), cost="2.000001"
    )
    _sample(gpu, d1, model="llama", use_case=router, tokens=(2000, 1000))
    _sample(gpu, d1, model="llama", use_case=notes, tokens=(800, 200))
    for endpoint in (openai, gpu):
        for day in days:
            rollup_day(endpoint=endpoint, day=day)
    return {"router": router, "notes": notes, "openai": openai, "gpu": gpu}


def _read(response):  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def _params(days):  # type: ignore[no-untyped-def]
    return {"start": days[0].isoformat(), "end": days[1].isoformat()}


def _z(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def test_the_csv_has_the_focus_columns_and_adds_up_to_the_ledger(
    api_client, bob, ledger, days
):
    api_client.force_authenticate(bob)
    response = api_client.get(FOCUS, _params(days))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _read(response)
    assert set(rows[0]) >= REQUIRED
    assert len(rows) == 6
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("123.567901")
    assert sum(Decimal(r["EffectiveCost"]) for r in rows) == Decimal("123.567901")
    assert sum(int(r["ConsumedQuantity"]) for r in rows) == 1100 + 330 + 11 + 4000
    for row in rows:
        assert row["BillingCurrency"] == "USD"
        assert row["ChargeCategory"] == "Usage"
        assert row["ServiceCategory"] == "AI and Machine Learning"
        assert row["ConsumedUnit"] == "Tokens"


def test_each_row_is_one_day_endpoint_model_and_use_case(api_client, bob, ledger, days):
    d1, d2 = days
    api_client.force_authenticate(bob)
    rows = _read(api_client.get(FOCUS, _params(days)))
    router, notes = ledger["router"], ledger["notes"]
    by_key = {
        (r["ChargePeriodStart"], r["ResourceId"], r["x_Model"], r["Tags"]): r
        for r in rows
    }
    router_tags = json.dumps(
        {
            "team": "Claims",
            "use_case": "Email router",
            "use_case_id": str(router.pk),
            "workload": "summarisation,classification",
        },
        sort_keys=True,
    )
    notes_tags = json.dumps(
        {
            "team": "Health",
            "use_case": "@SUM(A1) notes",
            "use_case_id": str(notes.pk),
            "workload": "classification",
        },
        sort_keys=True,
    )
    openai, gpu = f"endpoint/{ledger['openai'].pk}", f"endpoint/{ledger['gpu'].pk}"
    expected = {
        (_z(d1), openai, "gpt-4o", router_tags): ("1.234567", "1100"),
        (_z(d1), openai, "gpt-4o-mini", notes_tags): ("0.333333", "330"),
        (_z(d2), openai, "gpt-4o", router_tags): ("2.000001", "11"),
        (_z(d1), gpu, "llama", router_tags): ("45.000000", "3000"),
        (_z(d1), gpu, "llama", notes_tags): ("15.000000", "1000"),
        (_z(d2), gpu, "", "{}"): ("60.000000", "0"),
    }
    assert {k: (r["BilledCost"], r["ConsumedQuantity"]) for k, r in by_key.items()} == (
        expected
    )
    first = by_key[(_z(d1), openai, "gpt-4o", router_tags)]
    assert first["ChargePeriodEnd"] == _z(d2)  # exclusive end
    assert first["ProviderName"] == "OpenAI"
    assert first["ServiceName"] == "OpenAI API"
    idle = by_key[(_z(d2), gpu, "", "{}")]
    assert idle["ProviderName"] == "Self-hosted"
    assert idle["ServiceName"] == "vLLM (self-hosted)"
    assert idle["ChargeDescription"] == "Idle capacity of GPU box"
    assert idle["BillingPeriodStart"] == _z(d2.replace(day=1))


def test_the_sums_equal_the_spend_api_over_the_same_days(api_client, bob, ledger, days):
    api_client.force_authenticate(bob)
    rows = _read(api_client.get(FOCUS, _params(days)))
    spend = api_client.get(
        "/api/v1/spend/", {**_params(days), "group_by": "vendor", "period": "day"}
    ).json()["results"]
    for provider in ("OpenAI", "Self-hosted"):
        for day in days:
            focus_sum = sum(
                Decimal(r["BilledCost"])
                for r in rows
                if r["ProviderName"] == provider and r["ChargePeriodStart"] == _z(day)
            )
            (match,) = [
                Decimal(s["cost"])
                for s in spend
                if s["key"] == provider and s["period"] == day.isoformat()
            ]
            assert focus_sum == match


def test_a_requester_exports_only_their_teams_use_cases(
    api_client, alice, ledger, days
):
    api_client.force_authenticate(alice)
    rows = _read(api_client.get(FOCUS, _params(days)))
    assert {json.loads(r["Tags"])["use_case"] for r in rows} == {"Email router"}
    # 1.234567 + 2.000001 + 45.00; no idle capacity, nothing of Health's.
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("48.234568")


def test_cells_that_would_run_as_formulas_are_neutralised(
    api_client, bob, ledger, days
):
    api_client.force_authenticate(bob)
    rows = _read(api_client.get(FOCUS, _params(days)))
    names = {r["ResourceName"] for r in rows}
    assert names == {'\'=HYPERLINK("http://evil")', "GPU box"}


def test_the_range_leaves_other_days_out(api_client, bob, ledger, days):
    api_client.force_authenticate(bob)
    rows = _read(api_client.get(FOCUS, {"start": days[1], "end": days[1]}))
    assert {r["ChargePeriodStart"] for r in rows} == {_z(days[1])}
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("62.000001")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-02-30"}, "start"),
        ({"end": "soon"}, "end"),
        ({"start": "2026-03-12", "end": "2026-03-10"}, "start"),
        ({"start": "2015-01-01", "end": "2026-01-01"}, "end"),
    ],
)
def test_bad_dates_are_400_json_field_errors(api_client, bob, params, field):
    api_client.force_authenticate(bob)
    response = api_client.get(FOCUS, params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json()


def test_the_export_needs_authentication_and_a_role(api_client, django_user_model):
    assert api_client.get(FOCUS).status_code == 401
    api_client.force_authenticate(django_user_model.objects.create_user("nobody"))
    assert api_client.get(FOCUS).status_code == 403


def test_the_portfolio_page_has_the_export_button(client, bob, today):
    client.force_login(bob)
    page = client.get("/portfolio/", {"period": "30d"}).content.decode()
    start = (today - timedelta(days=29)).isoformat()
    href = f"/api/v1/spend/focus/?start={start}&amp;end={today.isoformat()}"
    assert f'href="{href}" role="button" id="focus-export"' in page
    assert "Export FOCUS CSV" in page


def test_long_exports_stream_in_chunks_under_asgi_too(bob, ledger, days, monkeypatch):
    """Under ASGI a sync iterator would be read whole into memory; chunks come one
    by one from an async iterator instead."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    import apps.api.portfolio

    monkeypatch.setattr(apps.api.portfolio, "LINES_A_CHUNK", 2)

    async def fetch():  # type: ignore[no-untyped-def]
        client = AsyncClient()
        await client.aforce_login(bob)
        response = await client.get(FOCUS, _params(days))
        return response, [chunk async for chunk in response.streaming_content]

    response, chunks = async_to_sync(fetch)()
    assert response.status_code == 200 and response.is_async
    assert len(chunks) == 4  # a header and six rows, two lines a chunk
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("123.567901")
