"""Each channel against a real loopback receiver that checks what it is sent.

The receivers check the payloads as the services document them (Slack's Block
Kit, a Teams Workflows Adaptive Card) and verify the webhook signature the way
docs/notifications.md tells receivers to, written out here on its own.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

import pytest
from django.core import mail

from apps.core.events import Event, EventKind, emit
from apps.notify import services
from apps.notify.models import Delivery
from tests.factories import UseCaseFactory
from tests.notify.conftest import subscribe
from tests.servers import FakeServer, RecordedRequest, Reply

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

SECRET = "whsec-3b9f0c1e7d2a4f6b"


def verify_signature(request: RecordedRequest, secret: str) -> bool:
    """The receiver's check, as docs/notifications.md shows it."""
    timestamp = request.headers.get("x-portal-timestamp", "")
    signature = request.headers.get("x-portal-signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, "sha256")
    return hmac.compare_digest(signature, "v1=" + mac.hexdigest())


def signed_receiver(secret: str):  # type: ignore[no-untyped-def]
    def handle(request: RecordedRequest) -> Reply:
        if not verify_signature(request, secret):
            return Reply(401, {}, b"bad signature")
        return Reply(204)

    return handle


def slack_problems(message: dict[str, Any]) -> list[str]:
    """What Slack's incoming webhooks would refuse (Block Kit reference)."""
    problems = []
    if not isinstance(message.get("text"), str) or not message["text"]:
        problems.append("no fallback text")
    blocks = message.get("blocks")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return [*problems, "blocks missing"]
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            text = block["text"]
            if text["type"] != "plain_text" or not 0 < len(text["text"]) <= 150:
                problems.append("bad header")
        elif kind == "section":
            if block["text"]["type"] not in {"mrkdwn", "plain_text"}:
                problems.append("bad section")
            if len(block["text"]["text"]) > 3000:
                problems.append("section too long")
        elif kind == "context":
            if not block["elements"]:
                problems.append("empty context")
        elif kind == "actions":
            for element in block["elements"]:
                if element["type"] != "button" or element["text"]["type"] != (
                    "plain_text"
                ):
                    problems.append("bad button")
                if not element.get("url", "").startswith(("https://", "http://")):
                    problems.append("button url not absolute")
        else:
            problems.append(f"unknown block {kind}")
    return problems


def teams_problems(message: dict[str, Any]) -> list[str]:
    """What a Teams Workflows webhook ("post to a channel when a webhook request
    is received") needs: a message whose attachments hold Adaptive Cards."""
    if message.get("type") != "message":
        return ["not a message"]
    attachments = message.get("attachments") or []
    if len(attachments) != 1:
        return ["one attachment expected"]
    attachment = attachments[0]
    problems = []
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append("not an adaptive card")
    card = attachment.get("content", {})
    if card.get("type") != "AdaptiveCard" or not card.get("version"):
        problems.append("card type or version missing")
    if not card.get("$schema", "").startswith("http://adaptivecards.io/schemas/"):
        problems.append("no schema")
    for element in card.get("body", []):
        if element.get("type") != "TextBlock" or not element.get("text"):
            problems.append("bad body element")
    for action in card.get("actions", []):
        if action.get("type") != "Action.OpenUrl" or not action.get("url"):
            problems.append("bad action")
    return problems


def shape_receiver(check):  # type: ignore[no-untyped-def]
    def handle(request: RecordedRequest) -> Reply:
        problems = check(request.json())
        if problems:
            return Reply(400, {}, json.dumps(problems).encode())
        return Reply(200, {}, b"ok")

    return handle


def emit_and_deliver(event: Event, enqueued: list[int], capture) -> list[Delivery]:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        emit(event)
    for delivery_id in enqueued:
        services.deliver(delivery_id=delivery_id, final_attempt=False)
    return list(Delivery.objects.filter(pk__in=enqueued))


def drift_event(alice) -> Event:  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(owner=alice, title="Claims triage")
    return Event(
        kind=EventKind.DRIFT_FLAGGED,
        key=f"drift:test:{use_case.pk}",
        title="Re-assess Claims triage: live volume crossed a threshold",
        body="Live volume averages 61,000 requests a day.",
        url=use_case.get_absolute_url(),
        use_case_id=use_case.pk,
        user_ids=(alice.pk,),
        roles=("board",),
    )


def test_a_signed_webhook_arrives_with_a_signature_the_receiver_verifies(
    receiver: FakeServer, alice, enqueued, django_capture_on_commit_callbacks, settings
):
    settings.PORTAL_BASE_URL = "https://portal.example.org"
    receiver.route("POST", "/hook", signed_receiver(SECRET))
    subscribe(channel="webhook", target=receiver.url + "/hook", secret=SECRET)
    event = drift_event(alice)
    [delivery] = emit_and_deliver(event, enqueued, django_capture_on_commit_callbacks)
    assert delivery.status == Delivery.Status.SENT, delivery.last_error
    [request] = receiver.requests
    body = request.json()
    assert body["kind"] == "drift_flagged"
    assert body["title"] == event.title
    assert body["url"] == f"https://portal.example.org{event.url}"
    assert request.headers["x-portal-event"] == "drift_flagged"
    assert request.headers["x-portal-delivery"] == delivery.key == body["id"]
    assert request.headers["idempotency-key"] == delivery.key


def test_a_receiver_holding_another_secret_refuses_and_it_is_not_retried(
    receiver: FakeServer, alice, enqueued, django_capture_on_commit_callbacks
):
    receiver.route("POST", "/hook", signed_receiver("another-secret-altogether"))
    subscribe(channel="webhook", target=receiver.url + "/hook", secret=SECRET)
    [delivery] = emit_and_deliver(
        drift_event(alice), enqueued, django_capture_on_commit_callbacks
    )
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error.startswith("HTTP 401")
    assert len(receiver.requests) == 1


def test_slack_gets_a_block_kit_message_with_a_button_to_the_object(
    receiver: FakeServer, alice, enqueued, django_capture_on_commit_callbacks, settings
):
    settings.PORTAL_BASE_URL = "https://portal.example.org"
    receiver.route("POST", "/services/T000/B000/XXXX", shape_receiver(slack_problems))
    subscribe(channel="slack", target=receiver.url + "/services/T000/B000/XXXX")
    event = drift_event(alice)
    [delivery] = emit_and_deliver(event, enqueued, django_capture_on_commit_callbacks)
    assert delivery.status == Delivery.Status.SENT, delivery.last_error
    message = receiver.requests[0].json()
    assert message["text"] == event.title
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    assert actions["elements"][0]["url"] == f"https://portal.example.org{event.url}"


def test_teams_gets_an_adaptive_card_with_a_link_to_the_object(
    receiver: FakeServer, alice, enqueued, django_capture_on_commit_callbacks, settings
):
    settings.PORTAL_BASE_URL = "https://portal.example.org"
    receiver.route("POST", "/workflows/abc", shape_receiver(teams_problems))
    subscribe(channel="teams", target=receiver.url + "/workflows/abc")
    event = drift_event(alice)
    [delivery] = emit_and_deliver(event, enqueued, django_capture_on_commit_callbacks)
    assert delivery.status == Delivery.Status.SENT, delivery.last_error
    card = receiver.requests[0].json()["attachments"][0]["content"]
    assert card["body"][0]["text"] == event.title
    assert card["actions"][0]["url"] == f"https://portal.example.org{event.url}"


def test_an_email_subscription_mails_its_addresses(
    alice, enqueued, django_capture_on_commit_callbacks
):
    subscribe(channel="email", target="ops@example.com, board-list@example.com")
    [delivery] = emit_and_deliver(
        drift_event(alice), enqueued, django_capture_on_commit_callbacks
    )
    assert delivery.status == Delivery.Status.SENT
    [message] = mail.outbox
    assert message.to == ["ops@example.com", "board-list@example.com"]
    assert "live volume crossed a threshold" in message.subject


def test_a_server_error_is_recorded_for_a_retry_and_a_timeout_too(
    receiver: FakeServer, alice, enqueued, django_capture_on_commit_callbacks
):
    receiver.fail("/hook", status=503)
    subscribe(channel="slack", target=receiver.url + "/hook")
    with django_capture_on_commit_callbacks(execute=True):
        emit(drift_event(alice))
    [delivery_id] = enqueued
    with pytest.raises(services.channels.DeliveryError) as raised:
        services.deliver(delivery_id=delivery_id, final_attempt=False)
    assert raised.value.transient
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == Delivery.Status.RETRYING
    assert delivery.last_error.startswith("HTTP 503")
    receiver.clear_faults()
    receiver.hang("/hook", seconds=10)
    with pytest.raises(services.channels.DeliveryError) as raised:
        services.deliver(delivery_id=delivery_id, final_attempt=False)
    assert raised.value.transient and "Timeout" in raised.value.message
    # The last attempt records the failure instead of asking for another.
    delivery = services.deliver(delivery_id=delivery_id, final_attempt=True)
    assert delivery is not None and delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 3


def test_a_delivery_held_by_another_attempt_is_left_alone_until_its_claim_lapses(
    receiver: FakeServer, alice, enqueued, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    receiver.route("POST", "/hook", lambda request: Reply(200, {}, b"ok"))
    subscribe(channel="slack", target=receiver.url + "/hook")
    with django_capture_on_commit_callbacks(execute=True):
        emit(drift_event(alice))
    [delivery_id] = enqueued
    held = Delivery.objects.filter(pk=delivery_id)
    held.update(
        status=Delivery.Status.SENDING,
        sending_until=timezone.now() + timedelta(minutes=1),
    )
    with pytest.raises(services.DeliveryBusy):
        services.deliver(delivery_id=delivery_id, final_attempt=False)
    assert receiver.requests == []
    # A worker that died mid-send: its claim lapses and the delivery is taken over.
    held.update(sending_until=timezone.now() - timedelta(seconds=1))
    delivery = services.deliver(delivery_id=delivery_id, final_attempt=False)
    assert delivery is not None and delivery.status == Delivery.Status.SENT
    assert len(receiver.requests) == 1
    # Sent is final: another attempt does nothing.
    assert services.deliver(delivery_id=delivery_id, final_attempt=False) is None
    assert len(receiver.requests) == 1


def test_a_long_comment_still_makes_a_message_slack_accepts(
    receiver: FakeServer, alice, enqueued, django_capture_on_commit_callbacks
):
    receiver.route("POST", "/hook", shape_receiver(slack_problems))
    subscribe(channel="slack", target=receiver.url + "/hook")
    event = drift_event(alice)
    long_event = Event(
        **{**event.__dict__, "body": "volumes " * 1000, "title": "T" * 400}
    )
    [delivery] = emit_and_deliver(
        long_event, enqueued, django_capture_on_commit_callbacks
    )
    assert delivery.status == Delivery.Status.SENT, delivery.last_error
