"""The audit trail is append-only: every path that could change it is tried."""

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.framework.models import Assessment
from apps.reviews import services
from apps.reviews.models import Comment, Decision
from apps.usecases.models import AuditEvent, Transition

from .conftest import record_assessment

TRAIL_MODELS = [Decision, Comment, Transition, AuditEvent, Assessment]


@pytest.fixture
def trail(alice, bob, waiting):  # type: ignore[no-untyped-def]
    """One row of every kind the timeline is made of."""
    record_assessment(waiting)
    services.add_comment(use_case=waiting, by=bob, body="Original words")
    services.decide_use_case(
        use_case=waiting, by=bob, outcome="changes_requested", comment="Fix it"
    )
    return waiting


def rows(model):  # type: ignore[no-untyped-def]
    return list(model.objects.order_by("pk").values())


@pytest.mark.django_db
class TestThroughTheOrm:
    @pytest.mark.parametrize("model", TRAIL_MODELS, ids=lambda m: m.__name__)
    def test_a_saved_row_cannot_be_saved_again_or_deleted(self, trail, model):
        before = rows(model)
        row = model.objects.first()
        assert row is not None
        with pytest.raises(PermissionError):
            row.save()
        with pytest.raises(PermissionError):
            row.delete()
        assert rows(model) == before

    @pytest.mark.parametrize("model", TRAIL_MODELS, ids=lambda m: m.__name__)
    def test_querysets_cannot_update_or_delete(self, trail, model):
        before = rows(model)
        with pytest.raises(PermissionError):
            model.objects.all().update(created_at=None)
        with pytest.raises(PermissionError):
            model.objects.all().delete()
        with pytest.raises(PermissionError):
            model.objects.filter(pk__gt=0).delete()
        assert rows(model) == before

    def test_related_managers_cannot_delete_either(self, trail):
        with pytest.raises(PermissionError):
            trail.decisions.all().delete()
        with pytest.raises(PermissionError):
            trail.review_comments.update(body="rewritten")
        assert trail.review_comments.get().body == "Original words"


@pytest.mark.django_db
class TestThroughTheAdmin:
    @pytest.mark.parametrize("model", TRAIL_MODELS, ids=lambda m: m.__name__)
    def test_even_a_superuser_cannot_add_change_or_delete(
        self, client, root, trail, model
    ):
        model_admin = admin.site._registry.get(model)
        client.force_login(root)
        if model_admin is None:
            return  # not in the admin at all: nothing to try
        request = type("R", (), {"user": root})()
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
        meta = model._meta
        row = model.objects.first()
        base = f"admin:{meta.app_label}_{meta.model_name}"
        before = rows(model)
        assert client.post(reverse(f"{base}_add"), {}).status_code == 403
        assert (
            client.post(
                reverse(f"{base}_delete", args=[row.pk]), {"post": "yes"}
            ).status_code
            == 403
        )
        response = client.post(reverse(f"{base}_change", args=[row.pk]), {})
        assert response.status_code in (302, 403)  # read-only view ignores the post
        bulk = client.post(
            reverse(f"{base}_changelist"),
            {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
        )
        assert bulk.status_code in (200, 302, 403)
        assert rows(model) == before

    def test_the_use_case_itself_cannot_be_deleted_in_the_admin(
        self, client, root, trail
    ):
        client.force_login(root)
        url = reverse("admin:usecases_usecase_delete", args=[trail.pk])
        assert client.post(url, {"post": "yes"}).status_code == 403
        assert type(trail).objects.filter(pk=trail.pk).exists()


@pytest.mark.django_db
class TestThroughThePortalAndApi:
    def test_api_decision_and_timeline_accept_no_edits(self, api_client, root, trail):
        api_client.force_authenticate(root)
        decision = f"/api/v1/use-cases/{trail.pk}/decision/"
        timeline = f"/api/v1/use-cases/{trail.pk}/timeline/"
        for method in ("put", "patch", "delete"):
            assert getattr(api_client, method)(decision, {}).status_code == 405
            assert getattr(api_client, method)(timeline, {}).status_code == 405
        assert api_client.post(timeline, {}).status_code == 405
        assert api_client.delete(f"/api/v1/use-cases/{trail.pk}/").status_code == 405
        assert Decision.objects.count() == 1 and Comment.objects.count() == 1

    def test_portal_pages_accept_no_edits(self, client, root, trail):
        client.force_login(root)
        before = (rows(Decision), rows(Comment), rows(Transition))
        for name in ("thread", "timeline", "review"):
            url = reverse(f"reviews:{name}", args=[trail.pk])
            assert client.delete(url).status_code == 405
            assert client.put(url).status_code == 405
        assert (
            client.post(reverse("reviews:timeline", args=[trail.pk])).status_code == 405
        )
        assert (rows(Decision), rows(Comment), rows(Transition)) == before
