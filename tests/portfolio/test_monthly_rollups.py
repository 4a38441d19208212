"""Reports read whole months from the monthly rollups and the rest from the daily ones.

Every expectation is summed from the raw samples the test wrote.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.endpoints.models import DailyUsage, MonthlyUsage, UsageSample
from apps.endpoints.services import rollup_day
from apps.usecases.models import UseCase
from tests.factories import UseCaseFactory

SPEND = "/api/v1/spend/"
# Days with usage, from January to April: January and April are cut by the window
# below, February and March are whole months.
DAYS = [
    date(2026, 1, 3),
    date(2026, 1, 20),
    date(2026, 1, 31),
    date(2026, 2, 1),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 3, 1),
    date(2026, 3, 31),
    date(2026, 4, 1),
    date(2026, 4, 9),
    date(2026, 4, 10),
    date(2026, 4, 25),
]
START, END = date(2026, 1, 15), date(2026, 4, 9)


@pytest.fixture
def year(usage, alice):  # type: ignore[no-untyped-def]
    openai, anthropic = usage.endpoint("openai"), usage.endpoint("anthropic")
    use_cases = [UseCaseFactory(owner=alice, status="live") for _ in range(3)]
    for n, day in enumerate(DAYS):
        for i, use_case in enumerate(use_cases):
            usage.add(
                endpoint=(openai, anthropic)[(n + i) % 2],
                use_case=use_case,
                day=day,
                requests=n + i + 1,
                cost=f"{n + 1}.{i}00017",
                model=("gpt-4o", "claude")[(n + i) % 2],
            )
    usage.rollup()
    return use_cases


def expected_by_month(usage, *, start: date, end: date) -> dict:  # type: ignore[no-untyped-def]
    sums: dict = defaultdict(lambda: [0, Decimal(0)])
    for sample in usage.samples:
        day = sample.bucket_start.date()
        if start <= day <= end:
            key = (day.strftime("%Y-%m"), str(sample.use_case_id))
            sums[key][0] += sample.requests
            sums[key][1] += sample.cost
    return {key: (requests, f"{cost:.6f}") for key, (requests, cost) in sums.items()}


def all_pages(api_client, params: dict) -> tuple[int, list[dict]]:  # type: ignore[no-untyped-def]
    rows, page, count = [], 1, None
    while True:
        body = api_client.get(SPEND, {**params, "page": page}).json()
        count = body["count"] if count is None else count
        assert body["count"] == count
        rows += body["results"]
        if body["next"] is None:
            return count, rows
        page += 1


def test_spend_by_month_across_cut_and_whole_months_equals_the_samples(
    api_client, bob, year, usage
):
    api_client.force_authenticate(bob)
    params = {
        "group_by": "use_case",
        "period": "month",
        "start": START,
        "end": END,
        "page_size": 2,
    }
    count, rows = all_pages(api_client, params)
    expected = expected_by_month(usage, start=START, end=END)
    assert count == len(rows) == len(expected) == 12
    assert {
        (row["period"], row["key"]): (row["requests"], row["cost"]) for row in rows
    } == expected
    # In period order whatever the page: the cut January first, the cut April last.
    assert [row["period"] for row in rows] == sorted(row["period"] for row in rows)


def test_a_page_past_the_last_is_a_404(api_client, bob, year):
    api_client.force_authenticate(bob)
    params = {"group_by": "use_case", "start": START, "end": END, "page_size": 5}
    assert api_client.get(SPEND, {**params, "page": 3}).status_code == 200
    assert api_client.get(SPEND, {**params, "page": 4}).status_code == 404


def test_csv_has_every_row_of_the_pages(api_client, bob, year, usage):
    api_client.force_authenticate(bob)
    params = {"group_by": "use_case", "start": START, "end": END}
    response = api_client.get(SPEND, {**params, "format": "csv"})
    lines = response.content.decode().strip().splitlines()
    assert len(lines) - 1 == len(expected_by_month(usage, start=START, end=END))


def test_monthly_rows_follow_each_rebuilt_day(usage, year):
    def month_sums(month: date) -> dict:
        rows = MonthlyUsage.objects.filter(month=month)
        return {
            (r.endpoint_id, r.use_case_id, r.model): (r.requests, r.cost) for r in rows
        }

    def sample_sums(month: date) -> dict:
        sums: dict = defaultdict(lambda: (0, Decimal(0)))
        for s in UsageSample.objects.filter(
            bucket_start__year=month.year, bucket_start__month=month.month
        ):
            key = (s.endpoint_id, s.use_case_id, s.model)
            sums[key] = (sums[key][0] + s.requests, sums[key][1] + s.cost)
        return dict(sums)

    february = date(2026, 2, 1)
    assert month_sums(february) == sample_sums(february)
    # A day's samples change (a late poll): its month follows.
    sample = UsageSample.objects.filter(bucket_start__date=date(2026, 2, 14)).first()
    sample.cost += Decimal("0.000003")
    sample.requests += 4
    sample.save()
    rollup_day(endpoint=sample.endpoint, day=date(2026, 2, 14))
    assert month_sums(february) == sample_sums(february)
    # A day's samples vanish: so do the month's rows that only they made.
    UsageSample.objects.filter(bucket_start__date__gte=february).filter(
        bucket_start__date__lt=date(2026, 3, 1), endpoint=sample.endpoint
    ).delete()
    for day in DAYS[3:6]:
        rollup_day(endpoint=sample.endpoint, day=day)
    assert month_sums(february) == sample_sums(february)
    assert not MonthlyUsage.objects.filter(
        month=february, endpoint=sample.endpoint
    ).exists()
    assert DailyUsage.objects.filter(date__month=2).exists()


def _spend_queries(api_client, params: dict) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        response = api_client.get(SPEND, params)
    assert response.status_code == 200
    return len(captured.captured_queries), response.json()


@pytest.mark.parametrize("rows", [5, 50])
def test_a_spend_page_runs_a_fixed_number_of_queries(
    api_client, bob, alice, usage, rows
):
    endpoint = usage.endpoint("openai")
    for _ in range(rows):
        use_case = UseCaseFactory(owner=alice, status="live")
        for day in DAYS:
            usage.add(
                endpoint=endpoint, use_case=use_case, day=day, requests=1, cost="0.5"
            )
    usage.rollup()
    api_client.force_authenticate(bob)
    api_client.get(SPEND, {"group_by": "vendor"})  # warms the user's cached roles
    params = {"group_by": "use_case", "start": START, "end": END, "page_size": 200}
    # The days before the whole months, the whole months with their count, the
    # days after them: one grouped query each, whatever the number of rows; then
    # the titles of the use-cases on the page.
    queries, body = _spend_queries(api_client, params)
    assert (queries, body["count"]) == (4, rows * 4)
    assert {row["label"] for row in body["results"]} == set(
        UseCase.objects.values_list("title", flat=True)
    )
    # A page of the cut January only: the whole months are counted, not fetched.
    queries, body = _spend_queries(api_client, {**params, "page_size": rows})
    assert (queries, body["count"], len(body["results"])) == (4, rows * 4, rows)
