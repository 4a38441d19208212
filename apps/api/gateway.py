"""`/api/v1/use-cases/{id}/gateway-keys/`: issue, list and revoke gateway keys.

The same rules and services as the use-case page (``apps.gateway.access`` and
``apps.gateway.keys``): the owner, platform and superusers manage keys; the team,
the board and auditors list them. The secret is in the 201 answer only.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from apps.gateway import keys
from apps.gateway.access import get_gateway_key_for, get_use_case_keys_for
from apps.gateway.forms import MAX_REQUESTS_PER_MINUTE, MAX_TOKENS_PER_MINUTE
from apps.gateway.models import GatewayKey


class GatewayKeySerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    revoked_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    active = serializers.BooleanField(
        source="is_active",
        read_only=True,
        help_text="Neither revoked nor expired: the gateway accepts it.",
    )

    class Meta:
        model = GatewayKey
        fields = [
            "id",
            "use_case",
            "name",
            "prefix",
            "created_at",
            "created_by",
            "expires_at",
            "requests_per_minute",
            "tokens_per_minute",
            "last_used_at",
            "revoked_at",
            "revoked_by",
            "active",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "prefix": {"help_text": "The first 12 characters of the secret."},
            "last_used_at": {"help_text": "Updated at most once a minute."},
        }


class IssuedGatewayKeySerializer(GatewayKeySerializer):
    key = serializers.CharField(
        read_only=True,
        help_text="The secret, shown in this answer only: send it as "
        "`Authorization: Bearer <key>` to the gateway.",
    )

    class Meta(GatewayKeySerializer.Meta):
        fields = [*GatewayKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class GatewayKeyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="In the future; omit: no expiry."
    )
    requests_per_minute = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_REQUESTS_PER_MINUTE,
        help_text="The key's own limit; omit: none.",
    )
    tokens_per_minute = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_TOKENS_PER_MINUTE,
        help_text="The key's own limit; omit: none.",
    )


class KeyConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


USE_CASE_ID = OpenApiParameter(
    "use_case_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Use-case id."
)
KEY_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Gateway key id."
)


@extend_schema_view(
    list=extend_schema(
        parameters=[USE_CASE_ID],
        summary="A use-case's gateway keys, newest first (never their secrets)",
    ),
    create=extend_schema(
        parameters=[USE_CASE_ID],
        request=GatewayKeyInputSerializer,
        responses={201: IssuedGatewayKeySerializer},
        summary="Issue a gateway key (the secret is in this answer only)",
        description=(
            "Owner, platform or superuser; the use-case must be approved or live "
            "(409 otherwise, nothing created). The answer carries `Cache-Control: "
            "no-store`."
        ),
    ),
    destroy=extend_schema(
        parameters=[USE_CASE_ID, KEY_ID],
        responses={204: OpenApiResponse(description="Revoked (or already was).")},
        summary="Revoke a gateway key",
    ),
)
class GatewayKeyViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = GatewayKeySerializer
    filter_backends: list = []
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return GatewayKey.objects.none()
        use_case = get_use_case_keys_for(self.request.user, self.kwargs["use_case_pk"])
        return GatewayKey.objects.filter(use_case=use_case).select_related(
            "created_by", "revoked_by"
        )

    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        # Role before status before input, so others learn nothing from the answer.
        use_case = get_use_case_keys_for(
            request.user, self.kwargs["use_case_pk"], manage=True
        )
        try:
            keys.check_issuable(use_case)
        except keys.KeyRefused as exc:
            raise KeyConflict(str(exc)) from exc
        payload = GatewayKeyInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            key, secret = keys.issue_gateway_key(
                use_case=use_case, by=request.user, **payload.validated_data
            )
        except keys.KeyRefused as exc:
            raise KeyConflict(str(exc)) from exc
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        body = IssuedGatewayKeySerializer(key).data
        body["key"] = secret
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response

    def destroy(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        key = get_gateway_key_for(
            request.user, self.kwargs["use_case_pk"], self.kwargs["pk"], manage=True
        )
        keys.revoke_gateway_key(key=key, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
