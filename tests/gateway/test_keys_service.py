"""The key services the runtime and the demo use: authenticate, touch, seed."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from apps.gateway import keys
from apps.gateway.keys import (
    KeyRefused,
    aauthenticate_key,
    atouch_last_used,
    authenticate_key,
    issue_gateway_key,
    revoke_gateway_key,
    touch_last_used,
)
from apps.gateway.models import GatewayKey
from apps.gateway.seed import demo_key_path
from apps.usecases.models import UseCase
from tests.factories import UseCaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_touch_notes():  # type: ignore[no-untyped-def]
    """The once-a-minute notes are per process and outlive a test's rollback."""
    keys._touched.clear()
    yield
    keys._touched.clear()


@pytest.fixture
def approved(alice):  # type: ignore[no-untyped-def]
    return UseCaseFactory(owner=alice, status="approved")


class TestAuthenticate:
    def test_an_active_key_authenticates_with_its_use_case(self, alice, approved):
        key, secret = issue_gateway_key(use_case=approved, name="k", by=alice)
        found = authenticate_key(secret)
        assert found == key
        assert found.use_case.title == approved.title

    def test_only_the_hash_and_a_prefix_are_stored(self, alice, approved):
        key, secret = issue_gateway_key(use_case=approved, name="k", by=alice)
        row = GatewayKey.objects.filter(pk=key.pk).values().get()
        assert secret not in [str(v) for v in row.values()]
        assert row["key_hash"] == GatewayKey.hash_key(secret)
        assert row["prefix"] == secret[:12]

    def test_a_revoked_key_does_not_authenticate(self, alice, approved):
        key, secret = issue_gateway_key(use_case=approved, name="k", by=alice)
        assert revoke_gateway_key(key=key, by=alice) is True
        assert authenticate_key(secret) is None

    def test_an_expired_key_does_not_authenticate(self, alice, approved):
        key, secret = issue_gateway_key(
            use_case=approved,
            name="k",
            by=alice,
            expires_at=timezone.now() + timedelta(hours=1),
        )
        GatewayKey.objects.filter(pk=key.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert authenticate_key(secret) is None

    @pytest.mark.parametrize(
        "secret", ["", "pgw_", "pgw_unknown", "aip_" + "x" * 43, "pgw_" + "x" * 5000]
    )
    def test_unknown_or_malformed_secrets_do_not_authenticate(
        self, alice, approved, secret
    ):
        issue_gateway_key(use_case=approved, name="k", by=alice)
        assert authenticate_key(secret) is None

    def test_deactivating_its_issuer_revokes_a_key(self, alice, approved):
        # Issue 16: someone who left, or lost access at the identity provider,
        # leaves no working key behind (apps/gateway/signals.py).
        key, secret = issue_gateway_key(use_case=approved, name="k", by=alice)
        alice.is_active = False
        alice.save(update_fields=["is_active"])
        assert authenticate_key(secret) is None
        key.refresh_from_db()
        assert key.revoked_at is not None

    def test_async_callers_authenticate_and_touch_too(self, alice, approved):
        key, secret = issue_gateway_key(use_case=approved, name="k", by=alice)
        assert async_to_sync(aauthenticate_key)(secret) == key
        assert async_to_sync(aauthenticate_key)("pgw_nope") is None
        assert async_to_sync(atouch_last_used)(key.pk) is True
        assert async_to_sync(atouch_last_used)(key.pk) is False
        key.refresh_from_db()
        assert key.last_used_at is not None


class TestIssueService:
    def test_a_not_approved_use_case_is_refused_with_nothing_created(self, alice):
        draft = UseCaseFactory(owner=alice)
        with pytest.raises(KeyRefused, match="approved or live"):
            issue_gateway_key(use_case=draft, name="k", by=alice)
        assert GatewayKey.objects.count() == 0

    def test_the_status_is_read_fresh_not_from_a_stale_object(self, alice, approved):
        UseCase.objects.filter(pk=approved.pk).update(status="retired")
        with pytest.raises(KeyRefused):
            issue_gateway_key(use_case=approved, name="k", by=alice)
        assert GatewayKey.objects.count() == 0

    def test_an_expiry_in_the_past_is_a_field_error(self, alice, approved):
        with pytest.raises(ValidationError) as error:
            issue_gateway_key(
                use_case=approved,
                name="k",
                by=alice,
                expires_at=timezone.now() - timedelta(minutes=1),
            )
        assert "expires_at" in error.value.message_dict
        assert GatewayKey.objects.count() == 0

    def test_issue_and_revoke_announce_the_change_on_commit(
        self, alice, approved, django_capture_on_commit_callbacks
    ):
        seen = []

        def listener(sender, key_id, use_case_id, **kwargs):  # type: ignore[no-untyped-def]
            seen.append((key_id, use_case_id))

        keys.key_changed.connect(listener)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                key, _ = issue_gateway_key(use_case=approved, name="k", by=alice)
            with django_capture_on_commit_callbacks(execute=True):
                revoke_gateway_key(key=key, by=alice)
        finally:
            keys.key_changed.disconnect(listener)
        assert seen == [(key.pk, approved.pk), (key.pk, approved.pk)]


class TestTouchLastUsed:
    def test_last_use_is_written_at_most_once_a_minute(self, alice, approved):
        key, _ = issue_gateway_key(use_case=approved, name="k", by=alice)
        t0 = timezone.now()
        assert touch_last_used(key.pk, now=t0) is True
        assert touch_last_used(key.pk, now=t0 + timedelta(seconds=30)) is False
        key.refresh_from_db()
        assert key.last_used_at == t0
        later = t0 + timedelta(seconds=61)
        assert touch_last_used(key.pk, now=later) is True
        key.refresh_from_db()
        assert key.last_used_at == later

    def test_a_touch_within_the_minute_makes_no_query(
        self, alice, approved, django_assert_num_queries
    ):
        key, _ = issue_gateway_key(use_case=approved, name="k", by=alice)
        t0 = timezone.now()
        touch_last_used(key.pk, now=t0)
        with django_assert_num_queries(0):
            for second in range(1, 60):
                touch_last_used(key.pk, now=t0 + timedelta(seconds=second))

    def test_another_process_does_not_write_again_within_the_minute(
        self, alice, approved
    ):
        key, _ = issue_gateway_key(use_case=approved, name="k", by=alice)
        t0 = timezone.now()
        assert touch_last_used(key.pk, now=t0) is True
        keys._touched.clear()  # a second process has no note of the first's touch
        assert touch_last_used(key.pk, now=t0 + timedelta(seconds=20)) is False
        key.refresh_from_db()
        assert key.last_used_at == t0


class TestDemoSeed:
    @pytest.fixture(autouse=True)
    def _var_dir(self, settings, tmp_path):  # type: ignore[no-untyped-def]
        settings.DEBUG = True
        settings.VAR_DIR = tmp_path

    def seed(self, capsys, django_capture_on_commit_callbacks) -> str:  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            call_command("seed_demo")
        return capsys.readouterr().out

    def test_seed_demo_issues_a_working_key_for_an_approved_demo_use_case(
        self, capsys, django_capture_on_commit_callbacks
    ):
        out = self.seed(capsys, django_capture_on_commit_callbacks)
        path = demo_key_path()
        secret = path.read_text().strip()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert secret in out and "demo only" in out
        key = authenticate_key(secret)
        assert key is not None
        assert key.use_case.status in {"approved", "live"}
        assert key.use_case.decisions.exists()
        assert secret not in str(
            list(key.use_case.audit_events.values_list("summary", "data"))
        )

    def test_seeding_again_keeps_the_key_while_the_file_opens_it(
        self, capsys, django_capture_on_commit_callbacks
    ):
        self.seed(capsys, django_capture_on_commit_callbacks)
        first = demo_key_path().read_text()
        out = self.seed(capsys, django_capture_on_commit_callbacks)
        assert demo_key_path().read_text() == first
        assert first.strip() not in out
        assert GatewayKey.objects.count() == 1

    def test_a_lost_demo_key_is_revoked_and_replaced(
        self, capsys, django_capture_on_commit_callbacks
    ):
        self.seed(capsys, django_capture_on_commit_callbacks)
        old = demo_key_path().read_text().strip()
        demo_key_path().unlink()
        self.seed(capsys, django_capture_on_commit_callbacks)
        new = demo_key_path().read_text().strip()
        assert new != old
        assert authenticate_key(old) is None
        assert authenticate_key(new) is not None
        assert GatewayKey.objects.active().count() == 1
