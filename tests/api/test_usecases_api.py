"""`/api/v1/use-cases/`: the same permission rules and validation as the pages."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.reviews.models import Decision
from apps.usecases.models import UseCase
from tests.factories import UseCaseFactory
from tests.portfolio.conftest import assess

S = UseCase.Status
URL = "/api/v1/use-cases/"


def payload(**overrides):  # type: ignore[no-untyped-def]
    data = {
        "title": "Invoice extraction",
        "description": "Pulls totals out of invoices.",
        "data_classification": "confidential",
        "special_categories": ["financial"],
        "must_stay_in_infrastructure": False,
        "requests_per_day": 12000,
        "avg_input_tokens": 1500,
        "avg_output_tokens": 200,
        "capability_need": "standard",
        "context_tokens": 8000,
        "mlops_readiness": "limited",
        "horizon": "production",
        "fine_tuning_data": False,
        "workloads": [{"task_type": "extraction", "share": 100}],
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestUseCaseApi:
    def test_anonymous_gets_401(self, api_client):
        assert api_client.get(URL).status_code == 401

    def test_requester_creates_and_submits(self, api_client, alice):
        api_client.force_authenticate(alice)
        created = api_client.post(URL, payload(), format="json")
        assert created.status_code == 201, created.json()
        body = created.json()
        assert body["status"] == "draft" and body["owner"] == "alice"
        assert body["team"] == alice.team_id
        submitted = api_client.post(f"{URL}{body['id']}/submit/")
        assert submitted.status_code == 200
        assert submitted.json()["status"] == "submitted"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("requests_per_day", -1),
            ("data_classification", "secret"),
            ("workloads", [{"task_type": "telepathy", "share": 100}]),
            ("workloads", [{"task_type": "reasoning", "share": 40}]),
            ("special_categories", ["astrology"]),
            ("horizon", ""),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, api_client, alice, field, value):
        api_client.force_authenticate(alice)
        response = api_client.post(URL, payload(**{field: value}), format="json")
        assert response.status_code == 400
        assert field in response.json()
        assert not UseCase.objects.exists()

    @pytest.mark.parametrize("role", ["board", "platform", "procurement", "auditor"])
    def test_only_requesters_create(self, api_client, cast, role):
        api_client.force_authenticate(cast[role])
        assert api_client.post(URL, payload(), format="json").status_code == 403

    def test_requester_cannot_see_other_teams_restricted_use_case(
        self, api_client, alice, carol
    ):
        secret = UseCaseFactory(
            owner=carol, data_classification="restricted", status=S.SUBMITTED
        )
        api_client.force_authenticate(alice)
        assert api_client.get(f"{URL}{secret.pk}/").status_code == 404
        assert api_client.get(URL).json()["count"] == 0

    def test_filters_by_status_and_classification(self, api_client, bob, alice):
        UseCaseFactory(owner=alice, status=S.SUBMITTED, data_classification="public")
        UseCaseFactory(owner=alice, status=S.DRAFT, data_classification="public")
        UseCaseFactory(
            owner=alice, status=S.SUBMITTED, data_classification="restricted"
        )
        api_client.force_authenticate(bob)
        body = api_client.get(
            URL, {"status": "submitted", "data_classification": "public"}
        ).json()
        assert body["count"] == 1

    def test_owner_updates_draft_but_not_after_submit(self, api_client, alice):
        use_case = UseCaseFactory(owner=alice)
        api_client.force_authenticate(alice)
        response = api_client.patch(
            f"{URL}{use_case.pk}/", {"title": "New"}, format="json"
        )
        assert response.status_code == 200 and response.json()["title"] == "New"
        assert [w["share"] for w in response.json()["workloads"]] == [100]
        UseCase.objects.filter(pk=use_case.pk).update(status=S.SUBMITTED)
        assert (
            api_client.patch(
                f"{URL}{use_case.pk}/", {"title": "X"}, format="json"
            ).status_code
            == 403
        )
        use_case.refresh_from_db()
        assert use_case.title == "New"

    def test_an_illegal_transition_is_a_409_with_a_message(self, api_client, alice):
        use_case = UseCaseFactory(owner=alice)
        api_client.force_authenticate(alice)
        response = api_client.post(
            f"{URL}{use_case.pk}/transition/", {"to_status": "live"}
        )
        assert response.status_code == 409
        assert "cannot move" in response.json()["detail"]

    def test_a_forbidden_transition_is_a_403(self, api_client, alice):
        use_case = UseCaseFactory(owner=alice, status=S.SUBMITTED)
        api_client.force_authenticate(alice)
        response = api_client.post(
            f"{URL}{use_case.pk}/transition/", {"to_status": "in_review"}
        )
        assert response.status_code == 403

    @pytest.mark.parametrize("rows", [5, 50])
    def test_list_runs_a_constant_number_of_queries(
        self, api_client, bob, alice, django_assert_num_queries, rows
    ):
        for index in range(rows):
            use_case = UseCaseFactory(
                owner=alice, workloads=[("classification", 50), ("reasoning", 50)]
            )
            for outcome in ("changes_requested", "approved")[: index % 3]:
                Decision.objects.create(
                    use_case=use_case, outcome=outcome, decided_by=bob
                )
        api_client.force_authenticate(bob)
        # The caller's roles, the count, the page, its workloads, its decisions.
        with django_assert_num_queries(5):
            response = api_client.get(URL, {"page_size": 100})
        body = response.json()
        assert body["count"] == rows
        decided = [row["decision"] for row in body["results"] if row["decision"]]
        assert len(decided) == len([i for i in range(rows) if i % 3])
        # The latest decision of each, not the first one.
        latest = {
            uc: Decision.objects.filter(use_case_id=uc)
            .order_by("created_at", "pk")
            .last()
            .pk
            for uc in Decision.objects.values_list("use_case_id", flat=True)
        }
        assert {
            row["id"]: row["decision"]["id"]
            for row in body["results"]
            if row["decision"]
        } == latest

    def test_list_shows_the_summary_and_the_detail_everything(
        self, api_client, bob, alice
    ):
        use_case = UseCaseFactory(
            owner=alice, workloads=[("classification", 50), ("reasoning", 50)]
        )
        api_client.force_authenticate(bob)
        row = api_client.get(URL).json()["results"][0]
        assert row["owner"] == "alice"
        assert row["team"] == use_case.team_id
        assert row["team_name"] == use_case.team.name
        assert sorted(w["task_type"] for w in row["workloads"]) == [
            "classification",
            "reasoning",
        ]
        assert "description" not in row
        detail = api_client.get(f"{URL}{use_case.pk}/").json()
        assert detail["description"] == use_case.description
        assert set(row) < set(detail)

    def test_a_list_row_says_what_the_detail_says_in_the_same_format(
        self, api_client, bob, alice
    ):
        use_case = UseCaseFactory(
            owner=alice, workloads=[("classification", 70), ("reasoning", 30)]
        )
        assess(use_case, "proprietary_api", "1234.5")
        Decision.objects.create(
            use_case=use_case,
            outcome="approved",
            pattern="hybrid",
            chosen_models=["claude-sonnet-4-6"],
            conditions=["Review in 6 months"],
            decided_by=bob,
        )
        UseCase.objects.filter(pk=use_case.pk).update(
            reassessment_flagged_at=timezone.now()
        )
        api_client.force_authenticate(bob)
        row = api_client.get(URL).json()["results"][0]
        detail = api_client.get(f"{URL}{use_case.pk}/").json()
        assert row["estimated_monthly_cost"] == "1234.50"
        assert row["reassessment_flagged_at"] is not None
        assert {k: v for k, v in row.items() if k != "decision"} == {
            k: detail[k] for k in row if k != "decision"
        }
        assert row["decision"] == {k: detail["decision"][k] for k in row["decision"]}
        assert row["decision"]["decided_by"] == "bob"


@pytest.mark.django_db
class TestBearerTokens:
    def test_issue_api_token_prints_a_token_once_and_stores_only_its_hash(
        self, bob, capsys
    ):
        call_command("issue_api_token", "bob", "--scope", "read")
        key = capsys.readouterr().out.strip()
        token = ApiToken.objects.get()
        assert key.startswith("aip_") and len(key) > 40
        assert token.key_hash == ApiToken.hash_key(key)
        assert key not in {token.key_hash, token.key_prefix}

    def test_a_bearer_token_authenticates_and_records_last_use(self, api_client, bob):
        token, key = ApiToken.issue(user=bob, name="procurement-sync")
        response = api_client.get(URL, HTTP_AUTHORIZATION=f"Bearer {key}")
        assert response.status_code == 200
        token.refresh_from_db()
        assert token.last_used_at is not None

    def test_a_revoked_or_expired_token_is_refused(self, api_client, bob):
        revoked, key1 = ApiToken.issue(user=bob, name="a")
        revoked.revoke()
        _expired, key2 = ApiToken.issue(user=bob, name="b", days=-1)
        for key in (key1, key2, "aip_not-a-token"):
            assert (
                api_client.get(URL, HTTP_AUTHORIZATION=f"Bearer {key}").status_code
                == 401
            )

    def test_a_read_only_token_cannot_write(self, api_client, alice):
        _, key = ApiToken.issue(user=alice, name="ro", scope="read")
        response = api_client.post(
            URL, payload(), format="json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
        assert response.status_code == 403
        _, key = ApiToken.issue(user=alice, name="rw", scope="write")
        response = api_client.post(
            URL, payload(), format="json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
        assert response.status_code == 201


@pytest.mark.django_db
def test_schema_is_openapi_3_and_docs_need_no_cdn(client, alice):
    client.force_login(alice)  # the docs need a signed-in user (API_DOCS_PUBLIC)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert "/api/v1/use-cases/" in schema.json()["paths"]
    docs = client.get("/api/docs/").content.decode()
    assert "cdn" not in docs.lower() and "/static/drf_spectacular_sidecar/" in docs


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/api/v1/use-cases/", "/api/v1/usage/", "/api/v1/catalogue/models/"]
)
def test_spreadsheet_lists_come_as_csv(api_client, bob, alice, url):
    UseCaseFactory(owner=alice, title="Claims, triage")
    from apps.catalogue.seed import load_seed_catalogue

    load_seed_catalogue()
    api_client.force_authenticate(bob)
    response = api_client.get(url, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = response.content.decode("utf-8-sig").splitlines()
    if url != "/api/v1/usage/":  # no usage collected here: an empty sheet
        assert rows[0].split(",")[:2] in (["id", "title"], ["id", "key"])
        assert len(rows) > 1
