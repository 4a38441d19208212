"""The OpenAPI schema says what the server does (issue 13, finding 9).

Each test reads the schema the portal serves and sends the request it describes,
or one it rules out, through the test client. The full run of schemathesis with
every check, as every role, is ``bench/api_fuzz.py``.
"""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.accounts.models import ApiToken
from apps.usecases.models import UseCase
from tests.factories import ServingEndpointFactory, UseCaseFactory


@pytest.fixture(scope="module")
def schema():  # type: ignore[no-untyped-def]
    return SchemaGenerator().get_schema(request=None, public=True)


def list_operations(schema):  # type: ignore[no-untyped-def]
    """Every GET that takes ``page_size``, as (path, operation)."""
    for path, items in schema["paths"].items():
        operation = items.get("get")
        if operation and any(p["name"] == "page_size" for p in operation["parameters"]):
            yield path, operation


def resolve(schema, ref):  # type: ignore[no-untyped-def]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


@pytest.fixture
def world(db, alice):  # type: ignore[no-untyped-def]
    """A use-case and an endpoint, so every list route has a real id."""
    use_case = UseCaseFactory(owner=alice, team=alice.team)
    ServingEndpointFactory()
    return {"use_case": use_case}


def concrete(path: str, use_case: UseCase) -> str:
    return re.sub(r"\{[a-z_]+\}", str(use_case.pk), path)


def test_the_timeline_is_documented_as_the_page_it_returns(
    schema, world, api_client, alice, bearer
):
    operation = schema["paths"]["/api/v1/use-cases/{id}/timeline/"]["get"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    documented = resolve(schema, body["$ref"])
    assert documented["type"] == "object"
    assert {"page", "page_size"} <= {p["name"] for p in operation["parameters"]}

    use_case = world["use_case"]
    response = api_client.get(
        f"/api/v1/use-cases/{use_case.pk}/timeline/", **bearer(alice)
    )

    assert response.status_code == 200
    data = response.json()
    assert set(data) == set(documented["properties"])
    assert set(documented["required"]) <= set(data)
    entry = resolve(schema, documented["properties"]["results"]["items"]["$ref"])
    assert data["results"] and set(data["results"][0]) == set(entry["properties"])


def test_every_list_documents_page_size_as_a_bounded_integer(schema):
    lists = list(list_operations(schema))
    assert len(lists) >= 10
    for path, operation in lists:
        for parameter in operation["parameters"]:
            if parameter["name"] == "page_size":
                assert parameter["schema"] == {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 200,
                }, path
            if parameter["name"] == "page":
                assert parameter["schema"] == {"type": "integer", "minimum": 1}, path


@pytest.mark.parametrize("value", ["null", "0", "-1", "201", "abc", "1.5"])
def test_every_list_refuses_a_page_size_its_schema_rules_out(
    schema, world, api_client, root, bearer, value
):
    headers = bearer(root)
    for path, _ in list_operations(schema):
        url = concrete(path, world["use_case"])
        query = "group_by=vendor&" if path == "/api/v1/spend/" else ""

        response = api_client.get(f"{url}?{query}page_size={value}", **headers)

        assert response.status_code == 400, (path, response.content)
        assert "page_size" in response.json(), path


def test_a_page_size_given_twice_is_refused(world, api_client, alice, bearer):
    response = api_client.get(
        "/api/v1/use-cases/?page_size=1&page_size=2", **bearer(alice)
    )
    assert response.status_code == 400
    assert response.json()["page_size"] == ["Give page_size once."]


def test_a_page_size_in_range_or_empty_is_taken(world, api_client, alice, bearer):
    headers = bearer(alice)
    UseCaseFactory(owner=alice, team=alice.team)

    one = api_client.get("/api/v1/use-cases/?page_size=1", **headers).json()
    most = api_client.get("/api/v1/use-cases/?page_size=200", **headers)
    empty = api_client.get("/api/v1/use-cases/?page_size=", **headers)

    assert one["count"] == 2 and len(one["results"]) == 1
    assert most.status_code == 200 and len(most.json()["results"]) == 2
    assert empty.status_code == 200 and len(empty.json()["results"]) == 2


def test_a_page_past_the_last_is_a_404_and_a_bad_page_a_400(
    world, api_client, alice, bearer
):
    headers = bearer(alice)
    assert api_client.get("/api/v1/use-cases/?page=99", **headers).status_code == 404
    for bad in ("0", "last", "null"):
        response = api_client.get(f"/api/v1/use-cases/?page={bad}", **headers)
        assert response.status_code == 400, bad
        assert "page" in response.json()


def test_the_csv_spend_report_still_refuses_a_bad_page_size(api_client, bob, bearer):
    response = api_client.get(
        "/api/v1/spend/?group_by=vendor&format=csv&page_size=null", **bearer(bob)
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "page_size" in response.json()


def test_the_schema_states_the_rules_the_server_enforces(schema):
    components = schema["components"]["schemas"]
    workloads = components["UseCaseRequest"]["properties"]["workloads"]
    assert workloads["minItems"] == 1
    assert "add up to exactly 100" in workloads["description"]
    evaluate = components["EvaluateInputRequest"]["properties"]["workloads"]
    assert evaluate["minItems"] == 1 and "100" in evaluate["description"]
    targets = components["RunRequestRequest"]["properties"]["targets"]
    assert (targets["minItems"], targets["maxItems"]) == (1, 4)
    base_url = components["EndpointRequest"]["properties"]["base_url"]["description"]
    assert "no credentials" in base_url and "ENDPOINT_ALLOWED_NETWORKS" in base_url
    for path in ("/api/v1/spend/", "/api/v1/spend/reconciliation/"):
        start = next(
            p
            for p in schema["paths"][path]["get"]["parameters"]
            if p["name"] == "start"
        )
        assert "1098 days" in start["description"], path


def test_a_use_case_whose_shares_miss_100_is_refused_as_documented(
    api_client, alice, bearer
):
    from tests.api.test_usecases_api import payload

    before = UseCase.objects.count()
    response = api_client.post(
        "/api/v1/use-cases/",
        payload(
            workloads=[
                {"task_type": "extraction", "share": 60},
                {"task_type": "classification", "share": 30},
            ]
        ),
        format="json",
        **bearer(alice, ApiToken.Scope.WRITE),
    )
    assert response.status_code == 400
    assert "workloads" in response.json()
    assert UseCase.objects.count() == before


def test_a_decimal_pattern_needs_a_digit(schema):
    cost = schema["components"]["schemas"]["EndpointRequest"]["properties"][
        "hourly_cost"
    ]
    pattern = re.compile(cost["pattern"])
    for bad in ("", "-", ".", "-.", "-1.25"):  # costs are never negative
        assert not pattern.search(bad), bad
    for good in ("3", "2.5", ".5"):
        assert pattern.search(good), good


def test_a_negative_cost_is_refused_as_its_pattern_says(api_client, dave) -> None:  # type: ignore[no-untyped-def]
    from apps.endpoints.models import ServingEndpoint

    api_client.force_authenticate(dave)
    before = ServingEndpoint.objects.count()
    answer = api_client.post(
        "/api/v1/endpoints/",
        {
            "name": "Negative",
            "kind": "vllm",
            "base_url": "http://127.0.0.1:9/",
            "hourly_cost": "-1.25",
        },
        format="json",
    )
    assert answer.status_code == 400 and "hourly_cost" in answer.json()
    assert ServingEndpoint.objects.count() == before


def test_a_required_text_of_spaces_is_ruled_out_by_the_schema_as_by_the_server(
    schema, api_client, alice
) -> None:  # type: ignore[no-untyped-def]
    prompt = schema["components"]["schemas"]["RunRequestRequest"]["properties"][
        "prompt"
    ]
    pattern = re.compile(prompt["pattern"])
    assert not pattern.search("   ") and pattern.search(" hi ")
    api_client.force_authenticate(alice)
    answer = api_client.post(
        "/api/v1/playground/runs/",
        {"prompt": "   ", "data_classification": "public", "targets": []},
        format="json",
    )
    assert answer.status_code == 400 and "prompt" in answer.json()


def test_the_api_takes_json_only_as_its_schema_says(schema, api_client, alice, bearer):
    for items in schema["paths"].values():
        for method, operation in items.items():
            if "requestBody" in operation:
                assert list(operation["requestBody"]["content"]) == [
                    "application/json"
                ], method
    before = UseCase.objects.count()

    response = api_client.post(
        "/api/v1/use-cases/",
        {"title": "Form post", "description": "x"},
        format="multipart",
        **bearer(alice, ApiToken.Scope.WRITE),
    )

    assert response.status_code == 415
    assert UseCase.objects.count() == before


def test_a_boolean_filter_refuses_anything_but_true_or_false(
    world, api_client, dave, bearer
):
    headers = bearer(dave)
    refused = api_client.get("/api/v1/endpoints/?enabled=-58800", **headers)
    taken = api_client.get("/api/v1/endpoints/?enabled=true", **headers)

    assert refused.status_code == 400
    assert refused.json()["enabled"] == ["Give true or false."]
    assert taken.status_code == 200 and taken.json()["count"] == 1


def test_a_method_a_route_lacks_is_a_405_even_when_csv_is_asked_for(
    api_client, paul, bearer
):
    response = api_client.generic(
        "TRACE",
        "/api/v1/catalogue/models/?format=csv",
        **bearer(paul, ApiToken.Scope.WRITE),
    )
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_requester_asking_for_another_teams_summary_is_forbidden(
    api_client, alice, carol, bearer
):
    response = api_client.get(
        f"/api/v1/portfolio/summary/?team={carol.team_id}", **bearer(alice)
    )
    assert response.status_code == 403


def test_a_usage_window_that_is_not_a_date_is_refused(api_client, dave, bearer):
    response = api_client.get("/api/v1/usage/?start=x", **bearer(dave))
    assert response.status_code == 400
    assert "start" in response.json()


@pytest.mark.django_db
def test_volumes_too_large_to_cost_are_a_400_not_a_500(api_client, alice) -> None:  # type: ignore[no-untyped-def]
    from apps.api.framework import EXAMPLE

    api_client.force_authenticate(alice)
    body = {**EXAMPLE, "requests_per_day": 1e308, "avg_input_tokens": 1e308}
    answer = api_client.post("/api/v1/framework/evaluate/", body, format="json")
    assert answer.status_code == 400
    assert set(answer.json()) >= {"requests_per_day", "avg_input_tokens"}


# The drifts left by the last schemathesis run (bench/api_fuzz.py).


def query_parameters(schema, name):  # type: ignore[no-untyped-def]
    """(path, parameter) for every GET list with a query parameter ``name``."""
    for path, operation in list_operations(schema):
        for parameter in operation["parameters"]:
            if parameter["in"] == "query" and parameter["name"] == name:
                yield path, parameter


def test_evaluate_documents_a_null_context_and_takes_it(schema, api_client, alice):
    from apps.api.framework import EXAMPLE

    context = schema["components"]["schemas"]["EvaluateInputRequest"]["properties"][
        "context_tokens"
    ]
    api_client.force_authenticate(alice)

    answer = api_client.post(
        "/api/v1/framework/evaluate/",
        {**EXAMPLE, "context_tokens": None},
        format="json",
    )

    assert context["nullable"] is True
    assert answer.status_code == 200
    assert answer.json()["outcome"]


@pytest.mark.parametrize(
    "field",
    ["requests_per_day", "avg_input_tokens", "avg_output_tokens", "peak_factor"],
)
def test_evaluate_refuses_a_volume_above_its_documented_maximum(
    schema, api_client, alice, field
):
    from apps.api.framework import EXAMPLE

    properties = schema["components"]["schemas"]["EvaluateInputRequest"]["properties"]
    maximum = properties[field]["maximum"]
    api_client.force_authenticate(alice)

    at_most = api_client.post(
        "/api/v1/framework/evaluate/", {**EXAMPLE, field: maximum}, format="json"
    )
    above = api_client.post(
        "/api/v1/framework/evaluate/", {**EXAMPLE, field: maximum * 1.5}, format="json"
    )

    assert at_most.status_code == 200, at_most.content
    assert above.status_code == 400
    assert list(above.json()[field]) == [
        f"Ensure this value is less than or equal to {maximum:,}."
    ]


def test_every_list_documents_its_orderings_and_refuses_any_other(
    schema, world, api_client, root, bearer
):
    headers = bearer(root)
    orderings = list(query_parameters(schema, "ordering"))
    assert len(orderings) >= 9
    for path, parameter in orderings:
        url = concrete(path, world["use_case"])
        documented = (
            parameter["schema"].get("enum") or parameter["schema"]["items"]["enum"]
        )
        ascending = [t for t in documented if not t.startswith("-")]
        assert ascending and sorted(documented) == sorted(
            [*ascending, *(f"-{t}" for t in ascending)]
        ), path

        for term in documented:
            response = api_client.get(url, {"ordering": term}, **headers)
            assert response.status_code == 200, (path, term, response.content)
        refused = api_client.get(url, {"ordering": "nonsense"}, **headers)
        assert refused.status_code == 400, (path, refused.content)
        assert "ordering" in refused.json(), path


def test_the_use_case_list_orders_by_status_as_documented(
    schema, world, api_client, alice, bearer
):
    UseCaseFactory(owner=alice, team=alice.team, status=UseCase.Status.SUBMITTED)
    parameter = dict(query_parameters(schema, "ordering"))["/api/v1/use-cases/"]

    response = api_client.get(
        "/api/v1/use-cases/", {"ordering": "-status"}, **bearer(alice)
    )

    assert "-status" in parameter["schema"]["items"]["enum"]
    assert response.status_code == 200
    statuses = [row["status"] for row in response.json()["results"]]
    assert statuses == ["submitted", "draft"]


def test_free_text_in_a_query_rules_out_nul_as_the_server_does(
    schema, world, api_client, root, bearer
):
    headers = bearer(root)
    checked = 0
    for path, operation in list_operations(schema):
        url = concrete(path, world["use_case"])
        for parameter in operation["parameters"]:
            pattern = parameter["schema"].get("pattern")
            if parameter["in"] != "query" or pattern is None:
                continue
            assert re.fullmatch(pattern, "claims") and not re.search(pattern, "a\0b")

            taken = api_client.get(url, {parameter["name"]: "claims"}, **headers)
            refused = api_client.get(url, {parameter["name"]: "a\0b"}, **headers)

            assert taken.status_code == 200, (path, parameter["name"])
            assert refused.status_code == 400, (path, parameter["name"])
            checked += 1
    assert checked >= 15


def test_free_text_in_a_body_rules_out_nul_as_the_server_does(
    schema, api_client, alice, bearer
):
    from tests.api.test_usecases_api import payload

    title = schema["components"]["schemas"]["UseCaseRequest"]["properties"]["title"]
    before = UseCase.objects.count()

    response = api_client.post(
        "/api/v1/use-cases/",
        payload(title="Invoice\0extraction"),
        format="json",
        **bearer(alice, ApiToken.Scope.WRITE),
    )

    assert not re.search(title["pattern"], "Invoice\0extraction")
    assert response.status_code == 400
    assert "title" in response.json()
    assert UseCase.objects.count() == before


@pytest.mark.parametrize(
    "value",
    ["1", "2.5", "100", "100.00", "0.99", "0", "-1", "100.01", "219.70", "1.001"],
)
def test_the_peak_factor_pattern_admits_exactly_what_a_use_case_takes(
    schema, api_client, alice, bearer, value
):
    from tests.api.test_usecases_api import payload

    peak = schema["components"]["schemas"]["UseCaseRequest"]["properties"][
        "peak_factor"
    ]
    before = UseCase.objects.count()

    response = api_client.post(
        "/api/v1/use-cases/",
        payload(peak_factor=value),
        format="json",
        **bearer(alice, ApiToken.Scope.WRITE),
    )

    documented = re.search(peak["pattern"], value) is not None
    assert documented == (response.status_code == 201), response.content
    assert UseCase.objects.count() == before + documented
    assert documented == (value in {"1", "2.5", "100", "100.00"})


def test_a_decision_approving_without_a_pattern_is_refused_as_documented(
    schema, api_client, bob, bearer
):
    from apps.reviews.models import Decision

    pattern = schema["components"]["schemas"]["DecisionInputRequest"]["properties"][
        "pattern"
    ]
    use_case = UseCaseFactory(status=UseCase.Status.IN_REVIEW)

    response = api_client.post(
        f"/api/v1/use-cases/{use_case.pk}/decision/",
        {"outcome": "approved", "pattern": ""},
        format="json",
        **bearer(bob, ApiToken.Scope.WRITE),
    )

    assert "when `outcome` is `approved`" in pattern["description"]
    assert response.status_code == 400
    assert "pattern" in response.json()
    assert not Decision.objects.filter(use_case=use_case).exists()
    use_case.refresh_from_db()
    assert use_case.status == UseCase.Status.IN_REVIEW


def test_a_run_without_a_classification_or_use_case_is_refused_as_documented(
    schema, api_client, alice, bearer
):
    from apps.playground.models import PlaygroundRun

    properties = schema["components"]["schemas"]["RunRequestRequest"]["properties"]
    endpoint = ServingEndpointFactory(served_models=["llama"])

    response = api_client.post(
        "/api/v1/playground/runs/",
        {"prompt": "Hi", "targets": [{"endpoint": endpoint.pk, "model": "llama"}]},
        format="json",
        **bearer(alice, ApiToken.Scope.WRITE),
    )

    assert (
        "unless `use_case` is given" in properties["data_classification"]["description"]
    )
    assert response.status_code == 400
    assert "data_classification" in response.json()
    assert PlaygroundRun.objects.count() == 0


def test_a_run_on_an_endpoint_that_cannot_chat_is_refused_as_documented(
    schema, api_client, alice, bearer
):
    from apps.playground.models import PlaygroundRun

    targets = schema["components"]["schemas"]["RunRequestRequest"]["properties"][
        "targets"
    ]
    endpoint = ServingEndpointFactory(served_models=["llama"], chat_capable=False)

    response = api_client.post(
        "/api/v1/playground/runs/",
        {
            "prompt": "Hi",
            "data_classification": "public",
            "targets": [{"endpoint": endpoint.pk, "model": "llama"}],
        },
        format="json",
        **bearer(alice, ApiToken.Scope.WRITE),
    )

    assert "Chat-capable" in targets["description"]
    assert response.status_code == 400
    assert "targets" in response.json()
    assert PlaygroundRun.objects.count() == 0


def test_served_models_are_documented_as_the_list_of_names_the_server_takes(
    schema, api_client, dave, bearer
):
    from apps.endpoints.models import ServingEndpoint

    served = schema["components"]["schemas"]["PatchedEndpointRequest"]["properties"][
        "served_models"
    ]
    endpoint = ServingEndpointFactory(served_models=["llama"])
    headers = bearer(dave, ApiToken.Scope.WRITE)
    url = f"/api/v1/endpoints/{endpoint.pk}/"

    refused = [
        api_client.patch(url, {"served_models": bad}, format="json", **headers)
        for bad in ({}, [7], "llama", [""])
    ]
    endpoint.refresh_from_db()
    unchanged = endpoint.served_models
    taken = api_client.patch(
        url, {"served_models": ["qwen", "llama", "qwen"]}, format="json", **headers
    )

    assert served["type"] == "array" and served["items"]["type"] == "string"
    assert served["items"]["minLength"] == 1
    assert [r.status_code for r in refused] == [400, 400, 400, 400]
    assert unchanged == ["llama"]
    assert taken.status_code == 200
    assert ServingEndpoint.objects.get(pk=endpoint.pk).served_models == [
        "llama",
        "qwen",
    ]


def test_a_key_issued_by_no_one_matches_the_documented_key(
    schema, api_client, alice, bob, bearer
):
    from apps.gateway.keys import issue_gateway_key

    use_case = UseCaseFactory(owner=alice, status=UseCase.Status.APPROVED)
    issue_gateway_key(use_case=use_case, name="seeded", by=None)
    documented = schema["components"]["schemas"]["GatewayKey"]["properties"]

    response = api_client.get(
        f"/api/v1/use-cases/{use_case.pk}/gateway-keys/", **bearer(bob)
    )

    assert response.status_code == 200
    key = response.json()["results"][0]
    assert key["created_by"] is None and key["revoked_by"] is None
    assert documented["created_by"]["nullable"] is True
    assert documented["revoked_by"]["nullable"] is True


def test_an_assessment_by_no_one_matches_the_documented_assessment(
    schema, api_client, alice, bearer
):
    from apps.catalogue.seed import load_seed_catalogue
    from apps.framework.services import assess_use_case

    load_seed_catalogue()
    use_case = UseCaseFactory(owner=alice, team=alice.team)
    assess_use_case(use_case=use_case, trigger="prices_changed", by=None)
    documented = schema["components"]["schemas"]["Assessment"]["properties"]

    response = api_client.get(
        f"/api/v1/use-cases/{use_case.pk}/assessments/", **bearer(alice)
    )

    assert response.status_code == 200
    assert response.json()["results"][0]["created_by"] is None
    assert documented["created_by"]["nullable"] is True


def test_an_endpoint_name_in_use_is_refused_as_documented(
    schema, api_client, dave, bearer
):
    from apps.endpoints.models import ServingEndpoint

    name = schema["components"]["schemas"]["EndpointRequest"]["properties"]["name"]
    taken = ServingEndpointFactory(name="vLLM cluster")
    other = ServingEndpointFactory(name="TGI box")

    response = api_client.patch(
        f"/api/v1/endpoints/{other.pk}/",
        {"name": taken.name},
        format="json",
        **bearer(dave, ApiToken.Scope.WRITE),
    )

    assert "Unique among endpoints" in name["description"]
    assert response.status_code == 400
    assert "name" in response.json()
    assert ServingEndpoint.objects.get(pk=other.pk).name == "TGI box"


def test_a_patch_with_a_workload_missing_its_share_is_a_400_not_a_500(
    api_client, alice, bearer
):
    use_case = UseCaseFactory(owner=alice, team=alice.team)
    before = list(use_case.workloads.values_list("task_type", "share"))

    response = api_client.patch(
        f"/api/v1/use-cases/{use_case.pk}/",
        {"workloads": [{"task_type": "classification", "notes": ""}]},
        format="json",
        **bearer(alice, ApiToken.Scope.WRITE),
    )

    assert response.status_code == 400
    assert "workloads" in response.json()
    assert list(use_case.workloads.values_list("task_type", "share")) == before


def test_an_empty_ordering_is_documented_as_the_default_order_it_gives(
    schema, api_client, alice
) -> None:  # type: ignore[no-untyped-def]
    parameters = schema["paths"]["/api/v1/use-cases/"]["get"]["parameters"]
    ordering = next(p for p in parameters if p["name"] == "ordering")
    assert ordering["allowEmptyValue"] is True
    api_client.force_authenticate(alice)
    assert api_client.get("/api/v1/use-cases/?ordering=").status_code == 200
