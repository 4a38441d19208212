"""Refusals and missing pages are portal pages: the layout, navigation, a way on."""

import logging
import sys

from django.urls import reverse

from apps.core.logging import RefusalsWithoutTraceback


def test_a_refused_page_keeps_the_portal_navigation(client, paul):
    client.force_login(paul)
    response = client.get(reverse("reviews:queue"))
    body = response.content.decode()
    assert response.status_code == 403
    assert '<nav aria-label="Main">' in body
    assert "<h1>You can't open this page</h1>" in body
    assert "The review queue is for the architecture board." in body


def test_a_missing_page_keeps_the_portal_navigation(client, paul):
    client.force_login(paul)
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert (
        '<nav aria-label="Main">' in body and "<h1>There is no page here</h1>" in body
    )


def record(status_code: int) -> logging.LogRecord:
    try:
        raise PermissionError("refused")
    except PermissionError:
        exc_info = sys.exc_info()
    entry = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Forbidden: /x", (), exc_info
    )
    entry.status_code = status_code
    return entry


def test_a_refusal_is_logged_on_one_line_without_a_traceback():
    refusal, fault = record(403), record(500)
    assert RefusalsWithoutTraceback().filter(refusal)
    assert refusal.exc_info is None and refusal.getMessage() == "Forbidden: /x"
    # A server error keeps its traceback.
    assert RefusalsWithoutTraceback().filter(fault) and fault.exc_info is not None
