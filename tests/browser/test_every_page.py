"""Every page each role can reach, in Chromium: axe-core finds nothing critical or
serious, and nothing scrolls sideways on a 390 px phone.

The walk starts at the home page with the demo data (`seed_demo`) and follows the
portal's own links, one page per kind of path (query strings are filters and pages
of the same template; `/use-cases/5/` stands for `/use-cases/7/`), plus `/api/docs/`.
A link that answers an error is reported too: a page shows only links its reader
may follow. axe-core comes from package.json (`make test`
installs it) and is injected into each page.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
ROLES = ["requester", "board", "platform", "procurement", "auditor"]
# Not pages to check: the admin (Django's own), files, the JSON API (but its docs).
SKIP_PREFIXES = ("/admin/", "/static/", "/api/v1/", "/api/schema", "/gateway/v1/")
SKIP_SUFFIXES = (".csv", ".json", ".pdf", "/export/", "/download/")
MAX_PAGES = 60
PHONE_WIDTH = 390

LINKS = """() => Array.from(document.querySelectorAll('a[href]'))
  .map(a => a.href).filter(h => h.startsWith(location.origin))"""
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'critical' || v.impact === 'serious')
    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.length + ' x '
              + v.nodes.slice(0, 2).map(n => n.html.slice(0, 160)).join(' | '));
}"""
SIDEWAYS = """() => {
  const wide = document.documentElement.scrollWidth - window.innerWidth;
  if (wide <= 0) return null;
  const culprits = Array.from(document.querySelectorAll('body *'))
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
    .filter(el => !el.closest('.table-scroll, pre, .chart, [data-plotly]'))
    .slice(0, 3).map(el => el.tagName.toLowerCase()
      + (el.id ? '#' + el.id : '') + (el.className && el.className.baseVal === undefined
        ? '.' + String(el.className).split(' ').join('.') : ''));
  return document.documentElement.scrollWidth + 'px wide: ' + culprits.join(', ');
}"""


def wanted(path: str) -> bool:
    if path.startswith(SKIP_PREFIXES) or path.endswith(SKIP_SUFFIXES):
        return False
    return "logout" not in path


def kind(path: str) -> str:
    return re.sub(r"/\d+/", "/N/", path)


def walk(page, username: str) -> tuple[dict, dict, dict]:  # type: ignore[no-untyped-def, type-arg]
    """Visit every page `username` reaches: axe problems, sideways, refusals."""
    page.context.clear_cookies()
    page.login(username, "demo")
    origin = urlsplit(page.url)
    seen: set[str] = set()
    queue = ["/", "/api/docs/"]
    problems: dict[str, list[str]] = {}
    sideways: dict[str, str] = {}
    refused: dict[str, int] = {}
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if kind(path) in seen or not wanted(path):
            continue
        seen.add(kind(path))
        response = page.goto(path)
        if response is None:
            continue
        if response.status >= 400:
            refused[path] = response.status
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        page.wait_for_load_state("networkidle")
        if path.startswith("/api/docs"):
            page.wait_for_selector("#swagger-ui .opblock-tag")
        page.add_script_tag(path=str(AXE))
        found = page.evaluate(AXE_RUN)
        if found:
            problems[path] = found
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})
        page.wait_for_timeout(50)
        if wide := page.evaluate(SIDEWAYS):
            sideways[path] = wide
        page.set_viewport_size({"width": 1280, "height": 800})
        for link in page.evaluate(LINKS):
            parts = urlsplit(link)
            if parts.netloc == origin.netloc and kind(parts.path) not in seen:
                queue.append(parts.path)
    assert len(seen) > 5, seen  # the walk did reach the portal's pages
    return problems, sideways, refused


@pytest.fixture
def demo_data(settings):  # type: ignore[no-untyped-def]
    settings.DEBUG = True  # seed_demo refuses otherwise (known passwords)
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.DEBUG = False


@pytest.mark.parametrize("username", ROLES)
def test_every_page_a_role_reaches_is_accessible_and_fits_a_phone(
    browser_page, demo_data, username
):
    assert AXE.exists(), "npm ci (make test) installs axe-core"
    problems, sideways, refused = walk(browser_page, username)
    report = [f"{path}: {line}" for path, lines in problems.items() for line in lines]
    report += [f"{path}: scrolls sideways, {wide}" for path, wide in sideways.items()]
    report += [f"{path}: a link answers {status}" for path, status in refused.items()]
    assert not report, "\n".join(report)
