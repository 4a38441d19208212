"""apps.gateway.routes: the checks on a decision's routes, the routes in force,
and the prefill from the assessment's per-workload routing."""

import pytest
from django.core.exceptions import ValidationError

from apps.gateway.routes import (
    current_routes,
    prefill_routes,
    suggest_routes,
    validate_routes,
)
from apps.reviews import services
from apps.reviews.routing import TargetEndpoint
from apps.usecases.models import UseCase
from apps.usecases.services import transition_use_case
from tests.factories import ServingEndpointFactory, UseCaseFactory
from tests.reviews.conftest import assessed_per_workload, submitted

S = UseCase.Status


@pytest.fixture
def hybrid(alice):  # type: ignore[no-untyped-def]
    return UseCaseFactory(
        owner=alice, workloads=[("classification", 70), ("reasoning", 30)]
    )


def errors_of(routes, use_case):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as caught:
        validate_routes(routes, use_case=use_case)
    return caught.value.message_dict["routes"]


def target(endpoint, model, weight=1):  # type: ignore[no-untyped-def]
    return {"endpoint": endpoint.pk, "model": model, "weight": weight}


@pytest.mark.django_db
class TestValidateRoutes:
    def test_it_normalises_weights_fallback_and_model_names(
        self, hybrid, llama, openai
    ):
        routes = [
            {
                "workload": "classification",
                "targets": [
                    {"endpoint": llama.pk, "model": " llama-3.1-8b "},
                    target(openai, "gpt-4o-mini", 3),
                ],
            },
            {
                "workload": "reasoning",
                "targets": [target(openai, "gpt-4o")],
                "fallback": [target(llama, "llama-3.1-70b")],
            },
        ]
        assert validate_routes(routes, use_case=hybrid) == [
            {
                "workload": "classification",
                "targets": [
                    {"endpoint": llama.pk, "model": "llama-3.1-8b", "weight": 1},
                    {"endpoint": openai.pk, "model": "gpt-4o-mini", "weight": 3},
                ],
                "fallback": [],
            },
            {
                "workload": "reasoning",
                "targets": [{"endpoint": openai.pk, "model": "gpt-4o", "weight": 1}],
                "fallback": [
                    {"endpoint": llama.pk, "model": "llama-3.1-70b", "weight": 1}
                ],
            },
        ]

    def test_no_routes_is_an_empty_list(self, hybrid):
        assert validate_routes(None, use_case=hybrid) == []
        assert validate_routes([], use_case=hybrid) == []

    def test_it_refuses_external_targets_and_fallback_for_must_stay_data(
        self, alice, llama, openai
    ):
        use_case = UseCaseFactory(owner=alice, must_stay_in_infrastructure=True)
        errors = errors_of(
            [
                {
                    "workload": "classification",
                    "targets": [
                        target(llama, "llama-3.1-8b"),
                        target(openai, "gpt-4o"),
                    ],
                    "fallback": [target(openai, "gpt-4o-mini")],
                }
            ],
            use_case,
        )
        assert len(errors) == 2
        assert errors[0].startswith(
            "routes[0].targets[1].endpoint: “OpenAI” is external;"
        )
        assert "this use-case's data must stay in-house" in errors[0]
        assert errors[1].startswith(
            "routes[0].fallback[0].endpoint: “OpenAI” is external"
        )

    def test_the_policy_keeps_restricted_data_in_house_without_the_requester_saying_so(
        self, alice, openai
    ):
        use_case = UseCaseFactory(owner=alice, data_classification="restricted")
        assert not use_case.must_stay_in_infrastructure
        (error,) = errors_of(
            [{"workload": "classification", "targets": [target(openai, "gpt-4o")]}],
            use_case,
        )
        assert error.startswith("routes[0].targets[0].endpoint: “OpenAI” is external")

    def test_internal_data_may_go_to_external_endpoints(self, alice, openai):
        use_case = UseCaseFactory(owner=alice, data_classification="internal")
        routes = [{"workload": "classification", "targets": [target(openai, "gpt-4o")]}]
        assert validate_routes(routes, use_case=use_case)[0]["targets"][0][
            "endpoint"
        ] == (openai.pk)

    def test_every_workload_needs_a_route(self, hybrid, llama):
        (error,) = errors_of(
            [
                {
                    "workload": "classification",
                    "targets": [target(llama, "llama-3.1-8b")],
                }
            ],
            hybrid,
        )
        assert error == (
            "routes: every workload needs a route when routes are given; "
            "missing: reasoning."
        )

    def test_it_refuses_unknown_and_repeated_workloads(self, hybrid, llama):
        one = [target(llama, "llama-3.1-8b")]
        errors = errors_of(
            [
                {"workload": "classification", "targets": one},
                {"workload": "classification", "targets": one},
                {"workload": "translation", "targets": one},
                {"workload": "reasoning", "targets": one},
            ],
            hybrid,
        )
        assert errors == [
            "routes[1].workload: classification already has a route (routes[0]).",
            "routes[2].workload: 'translation' is not a workload of this use-case; "
            "its workloads are classification, reasoning.",
        ]

    def test_weights_are_whole_numbers_of_which_one_is_above_zero(self, alice, llama):
        use_case = UseCaseFactory(owner=alice)
        zero = errors_of(
            [
                {
                    "workload": "classification",
                    "targets": [
                        target(llama, "llama-3.1-8b", 0),
                        target(llama, "llama-3.1-70b", 0),
                    ],
                }
            ],
            use_case,
        )
        assert zero == ["routes[0].targets: at least one weight must be above 0."]
        for weight in (-1, 1.5, "2", True):
            (error,) = errors_of(
                [
                    {
                        "workload": "classification",
                        "targets": [target(llama, "llama-3.1-8b", weight)],
                    }
                ],
                use_case,
            )
            assert (
                error
                == "routes[0].targets[0].weight: must be a whole number, 0 or more."
            )

    def test_the_model_must_be_one_the_endpoint_serves(self, alice, llama):
        use_case = UseCaseFactory(owner=alice)
        (error,) = errors_of(
            [{"workload": "classification", "targets": [target(llama, "gpt-4o")]}],
            use_case,
        )
        assert error == (
            "routes[0].targets[0].model: “Llama box” does not serve gpt-4o; "
            "it serves llama-3.1-8b, llama-3.1-70b."
        )

    def test_an_endpoint_without_a_model_list_takes_any_non_empty_name(self, alice):
        use_case = UseCaseFactory(owner=alice)
        bare = ServingEndpointFactory(name="Bare vLLM", served_models=[])
        routes = [{"workload": "classification", "targets": [target(bare, "mistral")]}]
        assert validate_routes(routes, use_case=use_case)[0]["targets"] == [
            {"endpoint": bare.pk, "model": "mistral", "weight": 1}
        ]
        (error,) = errors_of(
            [{"workload": "classification", "targets": [target(bare, "  ")]}],
            use_case,
        )
        assert (
            error == "routes[0].targets[0].model: name the model the endpoint serves."
        )

    def test_it_refuses_unknown_and_non_chat_endpoints(self, alice):
        use_case = UseCaseFactory(owner=alice)
        embedder = ServingEndpointFactory(
            name="Embedder", chat_capable=False, served_models=["bge"]
        )
        errors = errors_of(
            [
                {
                    "workload": "classification",
                    "targets": [
                        {"endpoint": 99_999, "model": "x"},
                        target(embedder, "bge"),
                        {"endpoint": "1", "model": "x"},
                    ],
                }
            ],
            use_case,
        )
        assert errors == [
            "routes[0].targets[0].endpoint: no serving endpoint has id 99999.",
            "routes[0].targets[1].endpoint: “Embedder” does not serve chat completions.",
            "routes[0].targets[2].endpoint: must be a serving endpoint's id.",
        ]

    def test_it_refuses_shapes_other_than_the_contract(self, alice, llama):
        use_case = UseCaseFactory(owner=alice)
        assert errors_of({"workload": "classification"}, use_case) == [
            "routes: must be a list of {workload, targets, fallback}."
        ]
        errors = errors_of(
            [
                {
                    "workload": "classification",
                    "targets": [],
                    "fallback": "none",
                    "priority": 1,
                }
            ],
            use_case,
        )
        assert errors == [
            "routes[0]: unknown field priority; the fields are fallback, targets, "
            "workload.",
            "routes[0].targets: give at least one target.",
            "routes[0].fallback: must be a list of {endpoint, model, weight}.",
        ]

    def test_a_target_is_listed_once_and_a_fallback_differs_from_the_targets(
        self, alice, llama
    ):
        use_case = UseCaseFactory(owner=alice)
        same = target(llama, "llama-3.1-8b")
        errors = errors_of(
            [
                {
                    "workload": "classification",
                    "targets": [same, same],
                    "fallback": [same],
                }
            ],
            use_case,
        )
        assert errors == [
            "routes[0].targets[1]: this endpoint and model is listed twice.",
            "routes[0].fallback[0]: this endpoint and model is already a target of "
            "the route; a fallback must be another.",
        ]


@pytest.mark.django_db
class TestCurrentRoutes:
    def test_the_latest_approval_of_an_approved_or_live_use_case_is_in_force(
        self, alice, bob, llama, openai
    ):
        use_case = submitted(alice)
        first = [
            {"workload": "classification", "targets": [target(llama, "llama-3.1-8b")]}
        ]
        services.decide_use_case(
            use_case=use_case,
            by=bob,
            outcome="approved",
            pattern="hybrid",
            routes=first,
        )
        use_case.refresh_from_db()
        assert current_routes(use_case)[0]["targets"][0]["model"] == "llama-3.1-8b"
        services.amend_routes(
            use_case=use_case,
            by=bob,
            routes=[
                {"workload": "classification", "targets": [target(openai, "gpt-4o")]}
            ],
        )
        assert current_routes(use_case)[0]["targets"] == [
            {"endpoint": openai.pk, "model": "gpt-4o", "weight": 1}
        ]
        transition_use_case(use_case=use_case, to_status=S.LIVE, by=alice)
        use_case.refresh_from_db()
        assert current_routes(use_case)[0]["targets"][0]["model"] == "gpt-4o"
        transition_use_case(use_case=use_case, to_status=S.RETIRED, by=alice)
        use_case.refresh_from_db()
        assert current_routes(use_case) == []

    def test_an_approval_without_routes_gives_none(self, alice, bob):
        use_case = submitted(alice)
        services.decide_use_case(
            use_case=use_case, by=bob, outcome="approved", pattern="hybrid"
        )
        use_case.refresh_from_db()
        assert use_case.status == S.APPROVED
        assert current_routes(use_case) == []

    def test_a_use_case_sent_back_has_no_routes_in_force(self, alice, bob):
        use_case = submitted(alice)
        services.decide_use_case(
            use_case=use_case,
            by=bob,
            outcome="changes_requested",
            comment="Add an evaluation.",
        )
        use_case.refresh_from_db()
        assert current_routes(use_case) == []


@pytest.mark.django_db
class TestPrefill:
    def test_self_hosted_workloads_get_in_house_and_api_ones_external_endpoints(
        self, hybrid, llama, openai
    ):
        assessed_per_workload(
            hybrid,
            {
                "classification": "open_source_self_hosted",
                "reasoning": "proprietary_api",
            },
        )
        routes = prefill_routes(hybrid)
        assert [r["workload"] for r in routes] == ["classification", "reasoning"]
        assert routes[0]["targets"][0]["endpoint"] == llama.pk
        assert routes[1]["targets"][0]["endpoint"] == openai.pk

    def test_must_stay_data_is_prefilled_in_house_only(self, alice, llama, openai):
        use_case = UseCaseFactory(
            owner=alice,
            must_stay_in_infrastructure=True,
            workloads=[("classification", 70), ("reasoning", 30)],
        )
        assessed_per_workload(
            use_case,
            {
                "classification": "open_source_self_hosted",
                "reasoning": "proprietary_api",
            },
        )
        routes = prefill_routes(use_case)
        assert {t["endpoint"] for r in routes for t in r["targets"]} == {llama.pk}

    def test_a_workload_without_a_matching_endpoint_or_assessment_gets_no_target(self):
        in_house = TargetEndpoint(id=1, name="Llama", location="in_house")
        routes = suggest_routes(
            workloads=["classification", "reasoning"],
            assessment={
                "workloads": [
                    {"task_type": "classification", "outcome": "proprietary_api"}
                ]
            },
            endpoints=[in_house],
            must_stay=False,
        )
        assert routes == [
            {"workload": "classification", "targets": [], "fallback": []},
            {"workload": "reasoning", "targets": [], "fallback": []},
        ]

    def test_it_prefers_the_endpoint_serving_the_assessed_model(self):
        endpoints = [
            TargetEndpoint(1, "A", "in_house", ("qwen2.5-7b",)),
            TargetEndpoint(2, "B", "in_house", ("mistral", "llama-3.1-8b-instruct")),
        ]
        (route,) = suggest_routes(
            workloads=["classification"],
            assessment={
                "workloads": [
                    {
                        "task_type": "classification",
                        "outcome": "open_source_self_hosted",
                        "model": "llama-3.1-8b",
                    }
                ]
            },
            endpoints=endpoints,
            must_stay=False,
        )
        assert route["targets"] == [
            {"endpoint": 2, "model": "llama-3.1-8b-instruct", "weight": 1}
        ]
