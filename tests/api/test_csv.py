"""`?format=csv` on the use-case list: one row per result, nested fields flattened."""

import csv
import io

import pytest

from apps.api.renderers import flatten, to_csv
from tests.factories import UseCaseFactory

URL = "/api/v1/use-cases/"


def read_csv(response):  # type: ignore[no-untyped-def]
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.django_db
class TestUseCaseCsv:
    def test_it_gives_one_row_per_use_case_with_flattened_columns(
        self, api_client, bob, alice
    ):
        UseCaseFactory(
            owner=alice,
            title="Claims triage",
            workloads=[("classification", 60), ("extraction", 40)],
        )
        UseCaseFactory(owner=alice, title="Letters")
        api_client.force_authenticate(bob)
        response = api_client.get(URL, {"format": "csv", "ordering": "title"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert 'filename="use-case.csv"' in response["Content-Disposition"]
        assert response["X-Total-Count"] == "2"
        rows = read_csv(response)
        assert [row["title"] for row in rows] == ["Claims triage", "Letters"]
        assert rows[0]["workloads.0.task_type"] == "classification"
        assert rows[0]["workloads.1.share"] == "40"
        assert rows[1]["workloads.1.share"] == ""  # one workload only
        assert rows[0]["owner"] == "alice"
        assert "decision" in rows[0]  # no decision yet: an empty cell

    def test_accept_text_csv_works_too(self, api_client, bob, alice):
        UseCaseFactory(owner=alice)
        api_client.force_authenticate(bob)
        response = api_client.get(URL, HTTP_ACCEPT="text/csv")
        assert response["Content-Type"].startswith("text/csv")

    def test_the_page_links_go_in_a_link_header(self, api_client, bob, alice):
        for _ in range(3):
            UseCaseFactory(owner=alice)
        api_client.force_authenticate(bob)
        response = api_client.get(URL, {"format": "csv", "page_size": 2})
        assert len(read_csv(response)) == 2
        assert 'rel="next"' in response["Link"] and "page=2" in response["Link"]

    def test_a_title_that_looks_like_a_formula_stays_text(self, api_client, bob, alice):
        UseCaseFactory(owner=alice, title='=HYPERLINK("http://evil","x")')
        api_client.force_authenticate(bob)
        rows = read_csv(api_client.get(URL, {"format": "csv"}))
        assert rows[0]["title"].startswith("'=")

    def test_the_detail_view_does_not_offer_csv(self, api_client, bob, alice):
        use_case = UseCaseFactory(owner=alice)
        api_client.force_authenticate(bob)
        response = api_client.get(f"{URL}{use_case.pk}/", {"format": "csv"})
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")

    def test_visibility_rules_hold_in_csv(self, api_client, alice, carol):
        UseCaseFactory(owner=carol, data_classification="restricted")
        api_client.force_authenticate(alice)
        assert read_csv(api_client.get(URL, {"format": "csv"})) == []


class TestFlatten:
    def test_nested_objects_become_dotted_columns(self):
        assert flatten({"a": {"b": 1, "c": {"d": None}}}) == {"a.b": 1, "a.c.d": None}

    def test_lists_of_values_join_into_one_cell(self):
        assert flatten({"tags": ["pii", "financial"]}) == {"tags": "pii; financial"}

    def test_lists_of_objects_get_indexed_columns(self):
        assert flatten({"w": [{"s": 1}, {"s": 2}]}) == {"w.0.s": 1, "w.1.s": 2}

    def test_columns_are_the_union_in_first_seen_order(self):
        text = to_csv([{"a": 1}, {"b": True, "a": -2.5}])
        assert text.splitlines() == ["a,b", "1,", "-2.5,true"]

    def test_negative_numbers_sent_as_text_are_not_escaped(self):
        assert to_csv([{"cost": "-12.50"}]).splitlines()[1] == "-12.50"
