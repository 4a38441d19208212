"""Every response carries a Content-Security-Policy and a Permissions-Policy, and no
page relies on an inline script the policy would block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import UseCaseFactory

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# <script> without src (json_script's data blocks excepted), and on*="..." handlers.
INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>"
)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=\"", re.IGNORECASE)


@pytest.fixture(autouse=True)
def _production(settings):  # type: ignore[no-untyped-def]
    settings.DEBUG = False


def directives(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    policy = response["Content-Security-Policy"]
    return dict(
        [*part.strip().split(" ", 1), ""][:2] for part in policy.split(";") if part
    )


def test_it_sends_a_strict_csp_on_pages_with_debug_off(client, alice, bob):
    use_case = UseCaseFactory(owner=alice)
    for user, url in (
        (alice, reverse("usecases:list")),
        (alice, reverse("usecases:detail", args=[use_case.pk])),
        (bob, reverse("portfolio:overview")),
    ):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, url
        csp = directives(response)
        assert csp["script-src"] == "'self'", url
        # Only our files, and the two fixed styles plotly.js inserts (by hash).
        assert csp["style-src"].split()[0] == "'self'", url
        assert all(
            source.startswith("'sha256-") for source in csp["style-src"].split()[1:]
        )
        assert csp["default-src"] == "'self'"
        assert csp["object-src"] == "'none'"
        assert csp["frame-ancestors"] == "'none'"
        assert "unsafe" not in response["Content-Security-Policy"]


def test_it_sends_the_headers_on_the_sign_in_page_and_the_api(client, alice):
    for response in (
        client.get(reverse("login")),
        client.get("/api/v1/ping/", HTTP_AUTHORIZATION="Bearer nope"),
    ):
        assert "script-src 'self'" in response["Content-Security-Policy"]
        policy = response["Permissions-Policy"]
        for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
            assert feature in policy


def test_the_policies_come_from_settings(client, settings):
    settings.CONTENT_SECURITY_POLICY = "default-src 'none'"
    settings.PERMISSIONS_POLICY = "camera=()"
    response = client.get(reverse("login"))
    assert response["Content-Security-Policy"] == "default-src 'none'"
    assert response["Permissions-Policy"] == "camera=()"


def test_no_template_has_an_inline_script_handler_or_style():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, INLINE_STYLE):
            offenders += [
                f"{path.relative_to(TEMPLATES)}: {m}" for m in pattern.findall(text)
            ]
    assert offenders == []


def test_the_swagger_ui_loads_its_start_up_script_from_a_url(client, alice):
    client.force_login(alice)
    response = client.get(reverse("api:docs"))
    page = response.content.decode()
    assert INLINE_SCRIPT.findall(page) == []
    assert directives(response)["script-src"] == "'self'"
    script = client.get(reverse("api:docs") + "?script")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
