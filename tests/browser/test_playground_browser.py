"""A requester compares models side by side in a real Chromium, streamed over ASGI.

pytest-django's ``live_server`` is WSGI and cannot stream from the async view, so
the portal runs under uvicorn (as ``make run`` does) in a thread, on the test
database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal

import pytest

from apps.usecases.models import AuditEvent
from tests.factories import ServingEndpointFactory
from tests.playground.asgi_server import AsgiServer
from tests.servers import FakeServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SMALL = "meta-llama/Llama-3.1-8B-Instruct"
BIG = "meta-llama/Llama-3.1-70B-Instruct"
EXTERNAL = "gpt-4o"


@pytest.fixture
def servers(settings) -> Iterator[dict[str, FakeServer]]:  # type: ignore[no-untyped-def]
    settings.ENDPOINT_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    with FakeServer() as small, FakeServer() as big, FakeServer() as external:
        small.models, big.models, external.models = [SMALL], [BIG], [EXTERNAL]
        small.chat_reply = (
            "The claim goes to the **motor** queue, as a van hit a fence."
        )
        big.chat_reply = (
            "Motor claims: the vehicle caused the damage to the fence here."
        )
        small.chunk_delay = big.chunk_delay = 0.15
        yield {"small": small, "big": big, "external": external}


@pytest.fixture
def endpoints(servers):  # type: ignore[no-untyped-def]
    return {
        "small": ServingEndpointFactory(
            name="Llama 8B",
            base_url=servers["small"].url,
            location="in_house",
            hourly_cost=Decimal("2.5"),
            served_models=[SMALL],
        ),
        "big": ServingEndpointFactory(
            name="Llama 70B",
            base_url=servers["big"].url,
            location="in_house",
            served_models=[BIG],
        ),
        "external": ServingEndpointFactory(
            name="OpenAI",
            kind="openai",
            base_url=servers["external"].url + "/v1",
            location="external",
            served_models=[EXTERNAL],
        ),
    }


@pytest.fixture
def portal_page(chromium, alice) -> Iterator:  # type: ignore[no-untyped-def]
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with AsgiServer() as portal:
        context = chromium.new_context(
            base_url=portal.url, bypass_csp=True
        )  # see conftest
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", "pw")
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        yield page
        context.close()


def value(endpoint, model: str) -> str:  # type: ignore[no-untyped-def]
    return f"{endpoint.pk}:{model}"


def test_a_requester_runs_two_models_side_by_side_and_sees_both_stream(
    portal_page, endpoints, servers
):
    page = portal_page
    page.click("text=Playground")
    page.check("input[name=data_classification][value=internal]")
    page.wait_for_load_state("networkidle")
    page.fill(
        "textarea[name=prompt]", "Which queue does this claim go to? A van hit a fence."
    )
    page.select_option("select[data-column='0']", value(endpoints["small"], SMALL))
    page.select_option("select[data-column='1']", value(endpoints["big"], BIG))
    page.click("#send")

    # Both columns show text while both are still streaming.
    page.wait_for_function(
        """() => {
            const columns = [...document.querySelectorAll('#columns .playground-column')];
            return columns.length === 2 && columns.every(c =>
                c.querySelector('.answer').textContent.length > 0 &&
                c.querySelector('.column-status').textContent === 'streaming');
        }"""
    )
    partial = page.locator("#columns .answer").first.inner_text()
    assert 0 < len(partial) < len(servers["small"].chat_reply)

    page.wait_for_selector("#playground-message a")  # "Saved as run #…"
    columns = page.locator("#columns .playground-column")
    assert columns.nth(0).locator(".column-status").inner_text() == "done"
    assert columns.nth(1).locator(".column-status").inner_text() == "done"
    # The finished answer is rendered Markdown.
    assert columns.nth(0).locator(".answer strong").inner_text() == "motor"
    assert "Motor claims" in columns.nth(1).locator(".answer").inner_text()
    assert columns.nth(0).locator("[data-metric=ttft]").inner_text().endswith(" ms")
    assert (
        columns.nth(0).locator("[data-metric=cost]").inner_text()
        == "self-hosted (hourly)"
    )
    assert columns.nth(1).locator("[data-metric=tokens]").inner_text() != "— / —"
    assert "Saved as run" in page.inner_text("#playground-message")


def test_an_external_endpoint_is_disabled_for_a_restricted_data_prompt(
    portal_page, endpoints, servers, alice
):
    page = portal_page
    page.goto("/playground/")
    external = f"option[value='{value(endpoints['external'], EXTERNAL)}']"
    page.check("input[name=data_classification][value=public]")
    page.wait_for_function(f'!document.querySelector("{external}").disabled')

    page.check("input[name=data_classification][value=restricted]")
    page.wait_for_function(f'document.querySelector("{external}").disabled')
    assert "restricted data may not leave" in page.inner_text("#guard-note")
    small = f"option[value='{value(endpoints['small'], SMALL)}']"
    assert page.eval_on_selector(small, "o => o.disabled") is False

    # Forced through anyway (the option re-enabled by hand): the server refuses.
    page.eval_on_selector(external, "o => { o.disabled = false; }")
    page.select_option(
        "select[data-column='0']", value(endpoints["external"], EXTERNAL)
    )
    page.fill("textarea[name=prompt]", "Patient notes: …")
    page.click("#send")
    page.wait_for_function(
        "document.querySelector('#playground-message').textContent.startsWith('Refused')"
    )
    assert "OpenAI" in page.inner_text("#playground-message")
    assert servers["external"].requests == []
    assert (
        AuditEvent.objects.filter(kind="playground.refused", actor=alice).count() == 1
    )
