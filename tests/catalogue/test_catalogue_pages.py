"""Catalogue pages and API: platform edits, others read, history is kept."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.catalogue.models import CatalogModel, GpuProfile, PriceSnapshot
from apps.framework.catalogue import current_catalogue


def model_form(model: CatalogModel, **overrides):  # type: ignore[no-untyped-def]
    data = {
        name: ("" if value is None else value)
        for name, value in {
            "key": model.key,
            "name": model.name,
            "provider": model.provider,
            "open_weights": "on" if model.open_weights else "",
            "capability_tier": model.capability_tier,
            "context_window": model.context_window,
            "hosting": model.hosting,
            "input_usd_per_mtok": model.input_usd_per_mtok,
            "output_usd_per_mtok": model.output_usd_per_mtok,
            "cached_input_usd_per_mtok": model.cached_input_usd_per_mtok,
            "batch_input_usd_per_mtok": model.batch_input_usd_per_mtok,
            "batch_output_usd_per_mtok": model.batch_output_usd_per_mtok,
            "hosted_by": model.hosted_by,
            "price_source": model.price_source,
            "price_date": model.price_date,
            "deprecation_date": model.deprecation_date,
            "params_b": model.params_b,
            "precision": model.precision,
            "litellm_key": model.litellm_key,
            "active": "on" if model.active else "",
        }.items()
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


@pytest.mark.django_db
class TestEditing:
    def test_platform_edits_a_price_and_the_old_version_is_kept(
        self, client, catalogue, dave
    ):
        model = CatalogModel.objects.get(key="gpt-4o")
        client.force_login(dave)
        response = client.post(
            reverse("catalogue:model_edit", args=[model.pk]),
            model_form(model, input_usd_per_mtok="2.00", reason="price cut"),
        )
        assert response.status_code == 302
        model.refresh_from_db()
        assert model.input_usd_per_mtok == Decimal("2.00")
        old = model.history.order_by("history_id").first()
        assert old.input_usd_per_mtok == Decimal("2.5")
        assert model.history.count() == 2
        assert model.history.latest().history_change_reason == "price cut"
        assert model.history.latest().history_user == dave
        snapshot = PriceSnapshot.objects.current()
        assert snapshot != catalogue and "dave" in snapshot.source
        assert current_catalogue().model("gpt-4o").input_usd_per_mtok == 2.0
        detail = client.get(reverse("catalogue:model_detail", args=[model.pk]))
        assert b"price cut" in detail.content

    def test_the_engine_refuses_an_inconsistent_model(self, client, catalogue, dave):
        model = CatalogModel.objects.get(key="gpt-4o")
        client.force_login(dave)
        response = client.post(
            reverse("catalogue:model_edit", args=[model.pk]),
            model_form(model, open_weights="on"),
        )
        assert response.status_code == 200
        assert b"api hosting is for proprietary models" in response.content
        model.refresh_from_db()
        assert not model.open_weights

    def test_platform_adds_a_model(self, client, catalogue, dave):
        client.force_login(dave)
        response = client.post(
            reverse("catalogue:model_create"),
            {
                "key": "acme-1",
                "name": "Acme 1",
                "provider": "Acme",
                "capability_tier": "standard",
                "context_window": 32000,
                "hosting": ["api"],
                "input_usd_per_mtok": "0.1",
                "output_usd_per_mtok": "0.2",
                "price_source": "acme.example price page",
                "price_date": "2026-11-01",
                "active": "on",
            },
        )
        assert response.status_code == 302, response.content
        assert "acme-1" in {m.key for m in current_catalogue().models}

    def test_a_gpu_profile_edit_is_validated_by_the_engine(
        self, client, catalogue, dave
    ):
        profile = GpuProfile.objects.get(is_default=True)
        client.force_login(dave)
        data = {
            "key": profile.key,
            "name": profile.name,
            "gpu": profile.gpu,
            "memory_gb": profile.memory_gb,
            "usd_per_gpu_hour": "2.50",
            "provider": profile.provider,
            "provisioning": profile.provisioning,
            "price_source": profile.price_source,
            "price_date": "2026-11-30",
            "sizes": '[{"max_params_b": 10, "gpus_per_replica": 0}]',
            "is_default": "on",
        }
        response = client.post(reverse("catalogue:gpu_edit", args=[profile.pk]), data)
        assert response.status_code == 200
        assert b"sizes[0]" in response.content
        data["sizes"] = __import__("json").dumps(profile.sizes)
        response = client.post(reverse("catalogue:gpu_edit", args=[profile.pk]), data)
        assert response.status_code == 302
        profile.refresh_from_db()
        assert profile.usd_per_gpu_hour == Decimal("2.50")
        assert profile.history.count() == 2

    @pytest.mark.parametrize("who", ["alice", "bob", "paul", "erin"])
    def test_other_roles_cannot_edit(self, client, catalogue, cast, who):
        user = {u.username: u for u in cast.values()}[who]
        model = CatalogModel.objects.get(key="gpt-4o")
        client.force_login(user)
        for url in (
            reverse("catalogue:model_edit", args=[model.pk]),
            reverse("catalogue:model_create"),
            reverse("catalogue:gpu_create"),
        ):
            assert client.get(url).status_code == 403
            assert client.post(url, model_form(model)).status_code == 403
        model.refresh_from_db()
        assert model.history.count() == 1


@pytest.mark.django_db
class TestReading:
    @pytest.mark.parametrize("who", ["bob", "dave", "paul", "erin"])
    def test_readers_see_the_catalogue(self, client, catalogue, cast, who):
        user = {u.username: u for u in cast.values()}[who]
        client.force_login(user)
        html = client.get(reverse("catalogue:list")).content.decode()
        assert "GPT-4o" in html and "H100" in html and catalogue.key in html

    def test_a_requester_does_not_see_the_catalogue_pages(
        self, client, catalogue, alice
    ):
        client.force_login(alice)
        assert client.get(reverse("catalogue:list")).status_code == 403

    def test_the_list_filters_by_tier(self, client, catalogue, dave):
        client.force_login(dave)
        html = client.get(
            reverse("catalogue:list"), {"capability_tier": "frontier"}
        ).content.decode()
        assert "GPT-5" in html and "GPT-4o mini" not in html

    @pytest.mark.parametrize("n", [5, 50])
    def test_the_list_takes_constant_queries(
        self, client, catalogue, dave, n, django_assert_max_num_queries
    ):
        template = CatalogModel.objects.get(key="llama-3.1-8b")
        CatalogModel.objects.exclude(pk=template.pk).delete()
        for i in range(n - 1):
            template.pk = None
            template.key = f"copy-{i}"
            template.save()
        client.force_login(dave)
        with django_assert_max_num_queries(10):
            response = client.get(reverse("catalogue:list"))
        assert response.content.decode().count("Llama 3.1 8B") >= n


@pytest.mark.django_db
class TestApi:
    def test_it_lists_and_filters_models(self, api_client, catalogue, paul):
        api_client.force_authenticate(paul)
        body = api_client.get(
            "/api/v1/catalogue/models/", {"hosting": "self_hosted"}
        ).json()
        assert body["count"] > 0
        assert all("self_hosted" in m["hosting"] for m in body["results"])
        body = api_client.get(
            "/api/v1/catalogue/models/", {"capability_tier": "frontier"}
        ).json()
        assert {m["capability_tier"] for m in body["results"]} == {"frontier"}

    def test_gpu_profiles_are_read_only(self, api_client, catalogue, dave):
        api_client.force_authenticate(dave)
        body = api_client.get("/api/v1/catalogue/gpu-profiles/").json()
        assert body["count"] == GpuProfile.objects.count()
        assert body["results"][0]["sizes"]
        assert api_client.post("/api/v1/catalogue/gpu-profiles/", {}).status_code == 405
        assert api_client.post("/api/v1/catalogue/models/", {}).status_code == 405

    def test_a_requester_is_refused(self, api_client, catalogue, alice):
        api_client.force_authenticate(alice)
        assert api_client.get("/api/v1/catalogue/models/").status_code == 403

    @pytest.mark.parametrize("n", [5, 50])
    def test_the_model_list_takes_constant_queries(
        self, api_client, catalogue, paul, n, django_assert_max_num_queries
    ):
        template = CatalogModel.objects.get(key="llama-3.1-8b")
        CatalogModel.objects.exclude(pk=template.pk).delete()
        for i in range(n - 1):
            template.pk = None
            template.key = f"copy-{i}"
            template.save()
        api_client.force_authenticate(paul)
        with django_assert_max_num_queries(6):
            body = api_client.get(
                "/api/v1/catalogue/models/", {"page_size": 100}
            ).json()
        assert body["count"] == n
