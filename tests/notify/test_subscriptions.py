"""Platform manages subscriptions on a page and through the API; targets and
secrets are encrypted and never shown back; unsafe webhook URLs are refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.events import Event, EventKind
from apps.notify.models import Delivery, Subscription
from tests.notify.conftest import LOOPBACK, subscribe

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.slack.com/services/T000/B000/s3cr3tT0ken"
API = "/api/v1/notifications/subscriptions/"

# Each refused by the SSRF guard (or as no URL at all), with no allowlist.
SSRF_VECTORS = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fd00:ec2::254]/",  # AWS metadata over IPv6
    "http://100.100.100.200/",  # Alibaba metadata
    "http://127.0.0.1:8000/admin/",  # loopback
    "http://localhost/",
    "http://[::1]/",
    "http://0x7f000001/",  # loopback, hex
    "http://2130706433/",  # loopback, decimal
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "http://10.0.0.5/hook",  # private
    "http://192.168.1.1/",
    "http://0.0.0.0/",
    "http://user:pass@example.com/hook",  # credentials in the URL
    "http://example.com\\@127.0.0.1/",  # parsers disagree on the host
    "file:///etc/passwd",
    "gopher://127.0.0.1:25/",
    "ftp://example.com/",
]


@pytest.fixture
def no_allowlist(settings):  # type: ignore[no-untyped-def]
    settings.NOTIFY_ALLOWED_NETWORKS = []


@pytest.mark.usefixtures("no_allowlist")
@pytest.mark.parametrize("url", SSRF_VECTORS)
def test_the_api_refuses_an_unsafe_webhook_url_and_saves_nothing(api_client, dave, url):
    api_client.force_authenticate(dave)
    response = api_client.post(
        API, {"name": "x", "channel": "webhook", "target": url, "secret": "s" * 20}
    )
    assert response.status_code == 400, response.content
    assert "target" in response.json()
    assert Subscription.objects.count() == 0


@pytest.mark.usefixtures("no_allowlist")
@pytest.mark.parametrize("url", SSRF_VECTORS)
def test_the_page_refuses_an_unsafe_webhook_url_and_saves_nothing(client, dave, url):
    client.force_login(dave)
    response = client.post(
        reverse("notify:subscriptions"),
        {"name": "x", "channel": "slack", "target": url, "enabled": "on"},
    )
    assert response.status_code == 400
    assert b'id="id_target-error"' in response.content
    assert Subscription.objects.count() == 0


def test_a_url_refused_at_send_time_fails_without_a_request(settings, alice):
    """A stored URL is checked again when used (a name may resolve elsewhere now)."""
    settings.NOTIFY_ALLOWED_NETWORKS = []
    subscription = subscribe(
        channel="webhook", target="http://127.0.0.1:9/", secret="s" * 20
    )
    from apps.notify import services

    services.record_event(
        event=Event(kind=EventKind.ENDPOINT_FAILING, key="k", title="t")
    )
    delivery = Delivery.objects.get(subscription=subscription)
    done = services.deliver(delivery_id=delivery.pk, final_attempt=False)
    assert done is not None and done.status == Delivery.Status.FAILED
    assert "127.0.0.1" in done.last_error


def test_platform_adds_a_webhook_and_never_sees_its_url_or_secret_again(
    client, dave, settings
):
    settings.NOTIFY_ALLOWED_NETWORKS = [
        "0.0.0.0/0"
    ]  # hooks.slack.com may not resolve here
    client.force_login(dave)
    response = client.post(
        reverse("notify:subscriptions"),
        {
            "name": "Board channel",
            "channel": "webhook",
            "target": "https://93.184.216.34/hook?token=s3cr3tT0ken",
            "secret": "whsec-0123456789abcdef",
            "event_kinds": ["use_case_submitted", "decided"],
            "role": "board",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    subscription = Subscription.objects.get()
    assert subscription.event_kinds == ["use_case_submitted", "decided"]
    assert "s3cr3tT0ken" not in subscription.target_encrypted
    assert subscription.target == "https://93.184.216.34/hook?token=s3cr3tT0ken"
    assert subscription.secret == "whsec-0123456789abcdef"
    for url in [
        reverse("notify:subscriptions"),
        reverse("notify:subscription_edit", args=[subscription.pk]),
    ]:
        page = client.get(url).content.decode()
        assert "s3cr3tT0ken" not in page and "whsec-0123456789abcdef" not in page
        assert "93.184.216.34" in page  # the host, to tell channels apart
    client.force_login(dave)
    api = client.get(API).json()["results"][0]
    assert "target" not in api and "secret" not in api
    assert api["has_secret"] is True and api["target_hint"] == "93.184.216.34"


def test_editing_without_a_new_target_keeps_the_stored_one(client, dave):
    subscription = subscribe(channel="email", target="ops@example.com")
    client.force_login(dave)
    response = client.post(
        reverse("notify:subscription_edit", args=[subscription.pk]),
        {"name": "Ops", "channel": "email", "target": "", "enabled": "on"},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.name == "Ops" and subscription.target == "ops@example.com"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "webhook", "target": "https://93.184.216.34/h"}, "secret"),
        ({"channel": "email", "target": "not an address"}, "target"),
        ({"channel": "slack"}, "target"),
        ({"channel": "email", "target": "a@example.com", "role": "requester"}, "role"),
        ({"channel": "pigeon", "target": "a@example.com"}, "channel"),
        (
            {"channel": "email", "target": "a@example.com", "event_kinds": ["nope"]},
            "event_kinds",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(
    api_client, dave, settings, body, field
):
    settings.NOTIFY_ALLOWED_NETWORKS = ["0.0.0.0/0"]
    api_client.force_authenticate(dave)
    response = api_client.post(API, {"name": "x", **body})
    assert response.status_code == 400
    assert field in response.json()
    assert Subscription.objects.count() == 0


def test_platform_manages_subscriptions_through_the_api(api_client, dave, claims):
    api_client.force_authenticate(dave)
    created = api_client.post(
        API,
        {
            "name": "Claims mail",
            "channel": "email",
            "target": "claims-leads@example.com",
            "team": claims.pk,
            "event_kinds": ["drift_flagged"],
        },
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert "target" not in created.json()
    changed = api_client.patch(f"{API}{pk}/", {"enabled": False})
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert Subscription.objects.get(pk=pk).target == "claims-leads@example.com"
    assert api_client.delete(f"{API}{pk}/").status_code == 204
    assert Subscription.objects.count() == 0


def test_only_platform_sees_the_subscriptions_page_and_log(client, cast):
    subscribe(channel="email", target="ops@example.com")
    for name, user in cast.items():
        client.force_login(user)
        status = client.get(reverse("notify:subscriptions")).status_code
        assert status == (200 if name == "platform" else 403), name


def test_the_page_shows_the_delivery_log_with_status_and_last_error(client, dave):
    subscription = subscribe(channel="email", target="ops@example.com")
    Delivery.objects.create(
        subscription=subscription,
        event_key="e1",
        key="k1",
        kind="drift_flagged",
        title="Re-assess Claims triage",
        status=Delivery.Status.RETRYING,
        attempts=2,
        last_error="HTTP 503: try later",
    )
    client.force_login(dave)
    page = client.get(reverse("notify:subscriptions")).content.decode()
    assert "Re-assess Claims triage" in page
    assert "Retrying" in page and "HTTP 503: try later" in page


class TestMatching:
    def event(self, **fields):  # type: ignore[no-untyped-def]
        return Event(kind=EventKind.DRIFT_FLAGGED, key="k", title="t", **fields)

    def test_a_team_subscription_hears_only_of_its_team(self, claims, health):
        subscription = subscribe(channel="email", target="a@example.com", team=claims)
        assert subscription.wants(self.event(), team_id=claims.pk)
        assert not subscription.wants(self.event(), team_id=health.pk)
        assert not subscription.wants(self.event(), team_id=None)

    def test_a_role_subscription_hears_what_is_addressed_to_the_role(self, db):
        subscription = subscribe(channel="email", target="a@example.com", role="board")
        assert subscription.wants(self.event(roles=("board",)), team_id=None)
        assert not subscription.wants(self.event(roles=("platform",)), team_id=None)

    def test_kinds_filter_and_none_means_all(self, db):
        some = subscribe(
            channel="email", target="a@example.com", event_kinds=["decided"]
        )
        every = subscribe(channel="email", target="b@example.com")
        assert not some.wants(self.event(), team_id=None)
        assert every.wants(self.event(), team_id=None)
        assert every.wants(
            Event(kind="some_future_kind", key="k2", title="t"), team_id=None
        )


def test_loopback_is_allowed_only_when_listed(api_client, dave, settings):
    settings.NOTIFY_ALLOWED_NETWORKS = LOOPBACK
    api_client.force_authenticate(dave)
    response = api_client.post(
        API, {"name": "local", "channel": "slack", "target": "http://127.0.0.1:9/hook"}
    )
    assert response.status_code == 201


def test_rotate_secrets_re_encrypts_webhook_urls_and_secrets(settings):
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    subscription = subscribe(
        channel="webhook", target=HOOK, secret="whsec-0123456789abcdef"
    )
    email = subscribe(channel="email", target="ops@example.com")  # no secret
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    out = StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "s3cr3tT0ken" not in out.getvalue()
    settings.FIELD_ENCRYPTION_KEY = new
    subscription.refresh_from_db()
    email.refresh_from_db()
    assert subscription.target == HOOK
    assert subscription.secret == "whsec-0123456789abcdef"
    assert email.target == "ops@example.com" and email.secret == ""
