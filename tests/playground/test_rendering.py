"""Model output is rendered as Markdown with no HTML injection."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.playground.models import RunOutput
from apps.playground.rendering import render_markdown

from .conftest import form_data, stream, target

HOSTILE = (
    "**Bold** answer <script>alert('x')</script> "
    "<img src=x onerror=alert(1)> "
    "[click](javascript:alert(2)) "
    '<a href="https://example.com" onclick="steal()">site</a> '
    "<iframe src=https://evil.example></iframe>"
)


def test_it_renders_markdown_formatting():
    html = render_markdown("# Title\n\n- **one**\n- `two`\n\n```\ncode\n```")

    assert "<h1>Title</h1>" in html
    assert "<strong>one</strong>" in html
    assert "<code>two</code>" in html
    assert "<pre><code>code" in html


def test_it_removes_scripts_event_handlers_and_javascript_links():
    html = render_markdown(HOSTILE)

    assert "<strong>Bold</strong>" in html
    assert "<script" not in html
    assert "onerror" not in html
    assert "onclick" not in html
    assert "javascript:" not in html
    assert "<iframe" not in html
    # No images at all: a model-written image URL can carry data out.
    assert "<img" not in html
    assert 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


@pytest.mark.django_db
def test_streamed_answers_are_sanitised_in_the_stream_and_the_saved_run(
    client, alice, local_endpoint, local_server
):
    local_server.chat_reply = HOSTILE

    result = stream(alice, form_data(target(local_endpoint)))

    html = result.column(0)["html"]
    assert "<strong>Bold</strong>" in html
    assert "<script" not in html and "onerror" not in html
    # The raw text is kept (shown as text, never as markup).
    assert RunOutput.objects.get().text == HOSTILE
    client.force_login(alice)
    page = client.get(
        reverse("playground:run_detail", args=[result.of("done")[0]["run"]])
    )
    content = page.content.decode()
    assert "<strong>Bold</strong>" in content
    assert "<script>alert" not in content
    assert "onerror=" not in content
    assert "javascript:alert" not in content
