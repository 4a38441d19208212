"""`/api/v1/notifications/`: a person's own inbox; subscriptions and deliveries.

Everyone reads and marks their own inbox items (only about objects they may
see). Platform manages subscriptions and reads the delivery log; a target (an
address, or a webhook URL carrying its token) and a signing secret are
write-only, checked like the portal's form (the SSRF guard for URLs).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from apps.accounts.roles import Role
from apps.api.permissions import has_role
from apps.core.events import EventKind
from apps.notify import services
from apps.notify.forms import scope_problem
from apps.notify.models import Delivery, Notification, Subscription

PLATFORM_ONLY = has_role(Role.PLATFORM)


class NotificationSerializer(serializers.ModelSerializer):
    read = serializers.BooleanField(source="is_read", read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "title",
            "body",
            "url",
            "use_case",
            "created_at",
            "read_at",
            "read",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "url": {"help_text": "The object's page, a path in the portal."}
        }


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="Items newly marked read.")


@extend_schema_view(
    list=extend_schema(
        summary="My notifications, newest first",
        parameters=[
            OpenApiParameter(
                "unread",
                OpenApiTypes.BOOL,
                description="`true`: unread items only.",
            )
        ],
    ),
    retrieve=extend_schema(summary="One of my notifications"),
)
class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = NotificationSerializer
    filter_backends: list = []
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        items = Notification.objects.for_user(self.request.user)
        unread = self.request.query_params.get("unread")
        if unread not in {None, "", "true", "false"}:
            raise serializers.ValidationError({"unread": ["Give true or false."]})
        return items.unread() if unread == "true" else items

    @extend_schema(
        request=None,
        responses={200: NotificationSerializer},
        summary="Mark one of my notifications read",
    )
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        services.mark_read(user=request.user, notification_id=item.pk)
        item.refresh_from_db()
        return Response(NotificationSerializer(item).data)

    @extend_schema(
        request=None,
        responses={200: MarkedSerializer},
        summary="Mark all my notifications read",
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        return Response({"marked": services.mark_read(user=request.user)})


class SubscriptionSerializer(serializers.ModelSerializer):
    event_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=EventKind.choices),
        required=False,
        help_text="Event kinds to deliver; empty: every event.",
    )
    target = serializers.CharField(
        write_only=True,
        required=False,
        max_length=2000,
        help_text="Write-only. E-mail addresses (comma-separated) for `email`; "
        "otherwise the webhook URL, `http://` or `https://`, checked like an "
        "endpoint's base URL (no credentials; every address the host resolves to "
        "public unless its network is in NOTIFY_ALLOWED_NETWORKS). Required on "
        "create and when the channel changes; absent keeps the stored one.",
        style={"input_type": "password"},
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=16,
        max_length=200,
        help_text="Write-only: the HMAC-SHA256 key of a `webhook` subscription "
        "(required for one); absent keeps the stored one.",
        style={"input_type": "password"},
    )
    has_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "name",
            "channel",
            "event_kinds",
            "team",
            "role",
            "target",
            "target_hint",
            "secret",
            "has_secret",
            "enabled",
            "created_at",
        ]
        read_only_fields = ["target_hint", "created_at"]
        extra_kwargs = {
            "target_hint": {
                "help_text": "What may be shown of the target: the addresses, or "
                "a webhook's host."
            },
            "team": {"help_text": "Only events about this team's objects."},
            "role": {"help_text": "Only events addressed to this role."},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: Subscription | None = self.instance
        channel = attrs.get("channel", instance.channel if instance else None)
        team = attrs.get("team", instance.team if instance else None)
        role = attrs.get("role", instance.role if instance else "")
        errors: dict[str, str] = {}
        problem = scope_problem(team=team, role=role)
        if problem:
            errors["role"] = problem
        target = attrs.get("target", "").strip()
        changed_channel = instance is not None and channel != instance.channel
        if not target and (instance is None or changed_channel):
            errors["target"] = "Give where to deliver."
        elif target and channel:
            problem = services.target_problem(channel=channel, target=target)
            if problem:
                errors["target"] = problem
        has_secret = (
            instance is not None and instance.has_secret and not changed_channel
        )
        if (
            channel == Subscription.Channel.WEBHOOK
            and not attrs.get("secret")
            and not has_secret
        ):
            errors["secret"] = "A signed webhook needs a secret."
        if errors:
            raise serializers.ValidationError(errors)
        attrs["target"] = target
        return attrs

    def save_with(self, *, by) -> Subscription:  # type: ignore[no-untyped-def]
        data = dict(self.validated_data)
        target = data.pop("target", "") or None
        secret = data.pop("secret", "") or None
        return services.save_subscription(
            subscription=self.instance,
            fields=data,
            target=target,
            secret=secret,
            by=by,
        )


@extend_schema_view(
    list=extend_schema(summary="Subscriptions (platform), never their targets"),
    create=extend_schema(summary="Add a subscription (platform)"),
    retrieve=extend_schema(summary="One subscription (platform)"),
    update=extend_schema(summary="Change a subscription (platform)"),
    partial_update=extend_schema(summary="Change part of a subscription (platform)"),
    destroy=extend_schema(
        summary="Remove a subscription (platform)",
        responses={204: OpenApiResponse(description="Removed.")},
    ),
)
class SubscriptionViewSet(viewsets.ModelViewSet):
    serializer_class = SubscriptionSerializer
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, PLATFORM_ONLY]
    filter_backends: list = []
    lookup_value_regex = "[0-9]+"
    queryset = Subscription.objects.all()

    def perform_create(self, serializer: SubscriptionSerializer) -> None:
        serializer.instance = serializer.save_with(by=self.request.user)

    def perform_update(self, serializer: SubscriptionSerializer) -> None:
        serializer.instance = serializer.save_with(by=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "subscription",
            "event_key",
            "key",
            "kind",
            "title",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "key": {"help_text": "The idempotency key sent with every attempt."}
        }


@extend_schema_view(
    list=extend_schema(summary="The delivery log (platform), newest first"),
    retrieve=extend_schema(summary="One delivery (platform)"),
)
class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DeliverySerializer
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, PLATFORM_ONLY]
    filter_backends: list = []
    lookup_value_regex = "[0-9]+"
    queryset = Delivery.objects.all()
