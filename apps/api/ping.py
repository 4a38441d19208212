"""`GET /api/v1/ping/`: the smallest DRF view, for health checks and benchmarks."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response


@extend_schema(
    summary="Is the API up?",
    description="Open to all; with a token it also says whether the token works.",
    responses=inline_serializer(
        "Ping",
        {
            "status": serializers.CharField(),
            "api_version": serializers.CharField(),
            "authenticated": serializers.BooleanField(),
        },
    ),
)
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def ping(request: Request) -> Response:
    return Response(
        {
            "status": "ok",
            "api_version": "v1",
            "authenticated": bool(request.user and request.user.is_authenticated),
        }
    )
