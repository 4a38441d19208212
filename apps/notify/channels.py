"""The four channels: what each one sends and how.

Payloads are plain dicts built from a delivery's stored payload (the event as
JSON, with an absolute link); one function per channel shapes the message and
:func:`send` posts it through the SSRF-guarded client of :mod:`apps.core.http`.
Answers are sorted into transient (retry: timeouts, connection errors, 408,
429, 5xx) and permanent failures (any other 4xx, a refused address).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings
from django.core.mail import send_mail

from apps.core.http import UnsafeURL, make_client

from .models import Subscription

if TYPE_CHECKING:
    from .models import Delivery

#: Header names of the signed webhook (docs/notifications.md).
EVENT_HEADER = "X-Portal-Event"
DELIVERY_HEADER = "X-Portal-Delivery"
TIMESTAMP_HEADER = "X-Portal-Timestamp"
SIGNATURE_HEADER = "X-Portal-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_VERSION = "v1"
TRANSIENT_STATUSES = frozenset({408, 425, 429})


class DeliveryError(Exception):
    """A delivery that failed; ``transient`` ones are retried."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One HTTP request a channel makes."""

    body: bytes
    headers: dict[str, str]


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``timestamp``, a dot and the body."""
    digest = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """A Block Kit message: header, the body, the kind, and a button to the object."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": payload["title"][:150]},
        }
    ]
    if payload.get("body"):
        blocks.append(
            {
                "type": "section",
                # Slack refuses a section over 3,000 characters.
                "text": {"type": "mrkdwn", "text": payload["body"][:2900]},
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": payload["kind_label"]}],
        }
    )
    if payload.get("url"):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in the portal"},
                        "url": payload["url"],
                    }
                ],
            }
        )
    # `text` is the notification's fallback (push notices, screen readers).
    return {"text": payload["title"], "blocks": blocks}


def teams_message(payload: dict[str, Any]) -> dict[str, Any]:
    """A message with one Adaptive Card, the shape Teams Workflows webhooks take."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": payload["title"],
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": payload["kind_label"],
            "isSubtle": True,
            "spacing": "None",
            "wrap": True,
        },
    ]
    if payload.get("body"):
        body.append({"type": "TextBlock", "text": payload["body"], "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if payload.get("url"):
        card["actions"] = [
            {
                "type": "Action.OpenUrl",
                "title": "Open in the portal",
                "url": payload["url"],
            }
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def outgoing(delivery: Delivery, *, now: float | None = None) -> Outgoing:
    """The request ``delivery`` makes on its subscription's channel."""
    subscription = delivery.subscription
    channel = subscription.channel
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: delivery.kind,
        DELIVERY_HEADER: delivery.key,
        IDEMPOTENCY_HEADER: delivery.key,
    }
    if channel == Subscription.Channel.SLACK:
        message = slack_message(delivery.payload)
    elif channel == Subscription.Channel.TEAMS:
        message = teams_message(delivery.payload)
    else:
        message = {"id": delivery.key, **delivery.payload}
    body = json.dumps(message, separators=(",", ":"), sort_keys=True).encode()
    if channel == Subscription.Channel.WEBHOOK:
        timestamp = str(int(now if now is not None else time.time()))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = sign(
            secret=subscription.secret, timestamp=timestamp, body=body
        )
    return Outgoing(body=body, headers=headers)


def send(delivery: Delivery) -> None:
    """Send ``delivery`` once; raise :class:`DeliveryError` when it did not arrive."""
    if delivery.subscription.channel == Subscription.Channel.EMAIL:
        _send_email(delivery)
    else:
        _post(delivery)


def _send_email(delivery: Delivery) -> None:
    payload = delivery.payload
    recipients = [
        address.strip()
        for address in delivery.subscription.target.split(",")
        if address.strip()
    ]
    lines = [payload.get("body", ""), "", f"Open it: {payload['url']}"]
    try:
        send_mail(
            subject=f"[AI Portal] {payload['title']}",
            message="\n".join(lines).strip() + "\n",
            from_email=None,
            recipient_list=recipients,
        )
    except OSError as exc:  # SMTP and socket errors: the server may come back
        raise DeliveryError(f"The mail server refused: {exc}", transient=True) from None


def _post(delivery: Delivery) -> None:
    request = outgoing(delivery)
    try:
        with make_client(
            allowed_networks=settings.NOTIFY_ALLOWED_NETWORKS,
            timeout=float(settings.NOTIFY_TIMEOUT_SECONDS),
        ) as client:
            response = client.post(
                delivery.subscription.target,
                content=request.body,
                headers=request.headers,
            )
    except UnsafeURL as exc:
        raise DeliveryError(exc.message, transient=False) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            transient=True,
        ) from None
    if response.is_success:
        return
    status = response.status_code
    message = f"HTTP {status}: {response.text[:200]}".strip()
    raise DeliveryError(
        message, transient=status >= 500 or status in TRANSIENT_STATUSES
    )
