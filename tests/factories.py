"""factory_boy factories for the domain; defaults describe a plausible request."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from apps.accounts.models import Team, User
from apps.usecases.models import Transition, UseCase, Workload


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw")

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create and extracted:
            obj.groups.add(Group.objects.get(name=extracted))


class UseCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UseCase
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Use-case {n}")
    description = "Routes incoming claims to the right queue."
    owner = factory.SubFactory(UserFactory, role="requester")
    team = factory.LazyAttribute(lambda uc: uc.owner.team or TeamFactory())
    data_classification = "internal"
    special_categories = factory.LazyFunction(list)
    requests_per_day = 20_000
    avg_input_tokens = 1_500
    avg_output_tokens = 500
    capability_need = "standard"
    context_tokens = 8_000
    mlops_readiness = "established"
    horizon = "production"

    @factory.post_generation
    def workloads(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if not create:
            return
        for task_type, share in extracted or [("classification", 100)]:
            Workload.objects.create(use_case=obj, task_type=task_type, share=share)


class TransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transition

    use_case = factory.SubFactory(UseCaseFactory)
    from_status = "draft"
    to_status = "submitted"
    actor = factory.SelfAttribute("use_case.owner")


class ServingEndpointFactory(factory.django.DjangoModelFactory):
    """A self-hosted vLLM endpoint on loopback (allowed by the test settings)."""

    class Meta:
        model = "endpoints.ServingEndpoint"

    name = factory.Sequence(lambda n: f"Endpoint {n}")
    kind = "vllm"
    base_url = "http://127.0.0.1:9"
    location = "in_house"
    hourly_cost = None
    served_models = factory.LazyFunction(list)


class EndpointMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "endpoints.EndpointMapping"

    endpoint = factory.SubFactory(ServingEndpointFactory)
    use_case = factory.SubFactory(UseCaseFactory)


class PlaygroundRunFactory(factory.django.DjangoModelFactory):
    """A saved playground run; ``outputs=n`` adds n answered columns."""

    class Meta:
        model = "playground.PlaygroundRun"
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory, role="requester")
    prompt = "Which queue does this claim go to?"
    data_classification = "internal"
    may_leave_infrastructure = True

    @factory.post_generation
    def outputs(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if not create:
            return
        from apps.playground.models import RunOutput

        for position in range(extracted or 1):
            RunOutput.objects.create(
                run=obj,
                position=position,
                endpoint_name=f"Endpoint {position}",
                location="in_house",
                model="fake-model",
                status="done",
                text="The motor queue.",
                ttft_ms=40.0,
                total_ms=200.0,
                input_tokens=10,
                output_tokens=4,
            )


class TestSetFactory(factory.django.DjangoModelFactory):
    __test__ = False

    class Meta:
        model = "playground.TestSet"

    use_case = factory.SubFactory(UseCaseFactory)
    name = factory.Sequence(lambda n: f"Test set {n}")
    created_by = factory.SelfAttribute("use_case.owner")


class TestInputFactory(factory.django.DjangoModelFactory):
    __test__ = False

    class Meta:
        model = "playground.TestInput"

    test_set = factory.SubFactory(TestSetFactory)
    prompt = "Which queue? A van hit a fence."
    check_kind = "contains"
    expected = "motor"
