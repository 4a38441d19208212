"""Every outbound connection the portal makes goes through the SSRF guard.

A check over the code: the application packages may reach the network only with
a client from :mod:`apps.core.http` (``make_client``/``make_async_client``). Any
other way to open a connection (an ``httpx.Client`` of its own, ``requests``,
``urllib.request``, raw sockets …) outside that module fails this test, so the
guarantee holds by construction rather than by review.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("apps", "portal")
#: The one module allowed to build clients and transports.
GUARD = Path("apps/core/http.py")

#: Modules that open connections of their own.
FORBIDDEN_MODULES = {
    "aiohttp",
    "ftplib",
    "http.client",
    "httpcore",
    "pycurl",
    "requests",
    "socket",
    "telnetlib",
    "urllib.request",
    "urllib3",
    "websocket",
    "websockets",
}
#: httpx names that make a client, a transport or a request without the guard.
FORBIDDEN_HTTPX = {
    "AsyncClient",
    "AsyncHTTPTransport",
    "Client",
    "HTTPTransport",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "request",
    "stream",
}
#: Other calls that open a connection: (module, attribute).
FORBIDDEN_CALLS = {
    ("asyncio", "open_connection"),
    ("asyncio", "open_unix_connection"),
    ("anyio", "connect_tcp"),
    ("anyio", "connect_unix"),
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _forbidden_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES)


def scan(source: str, path: str = "<source>") -> list[Finding]:
    """Ways of reaching the network without the guarded client factory."""
    tree = ast.parse(source, filename=path)
    findings: list[Finding] = []
    # Local names bound to httpx (``import httpx as h``) or to its forbidden names.
    httpx_aliases: set[str] = set()
    module_aliases: dict[str, str] = {}

    def found(node: ast.AST, what: str) -> None:
        findings.append(Finding(path, getattr(node, "lineno", 0), what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _forbidden_module(alias.name):
                    found(node, f"import {alias.name}")
                local = alias.asname or alias.name.split(".")[0]
                if alias.name == "httpx":
                    httpx_aliases.add(local)
                module_aliases[local] = alias.name
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if _forbidden_module(module):
                found(node, f"from {module} import …")
            for alias in node.names:
                full = f"{module}.{alias.name}"
                if _forbidden_module(full):
                    found(node, f"from {module} import {alias.name}")
                if module == "httpx" and alias.name in FORBIDDEN_HTTPX:
                    found(node, f"from httpx import {alias.name}")
                if (module, alias.name) in FORBIDDEN_CALLS:
                    found(node, f"from {module} import {alias.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if not isinstance(node.value, ast.Name):
            continue
        owner = node.value.id
        if owner in httpx_aliases and node.attr in FORBIDDEN_HTTPX:
            # Annotations (``client: httpx.Client``) are fine; building one is not.
            parent_calls = _is_called(tree, node)
            if parent_calls:
                found(node, f"httpx.{node.attr}(…)")
        module = module_aliases.get(owner, owner)
        if (module, node.attr) in FORBIDDEN_CALLS and _is_called(tree, node):
            found(node, f"{module}.{node.attr}(…)")
    for node in ast.walk(tree):
        # import_module("requests") / __import__("socket"): a dynamic import of a
        # forbidden module named in the code (a computed name is not followed).
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0]
        if (
            name in ("import_module", "__import__")
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and _forbidden_module(first.value)
        ):
            found(node, f"{name}({first.value!r})")
    return findings


def _is_called(tree: ast.AST, attribute: ast.Attribute) -> bool:
    """True when ``attribute`` is called, or subclassed (``class C(httpx.Client)``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.func is attribute:
            return True
        if isinstance(node, ast.ClassDef) and attribute in node.bases:
            return True
    return False


def python_files() -> list[Path]:
    files: list[Path] = []
    for package in SCANNED:
        files.extend(sorted((ROOT / package).rglob("*.py")))
    return files


def test_no_outbound_call_bypasses_the_guarded_client_factory() -> None:
    findings = []
    for path in python_files():
        relative = path.relative_to(ROOT)
        if relative == GUARD:
            continue
        findings.extend(scan(path.read_text(encoding="utf-8"), str(relative)))
    assert findings == [], "Use apps.core.http.make_client/make_async_client:\n" + (
        "\n".join(str(f) for f in findings)
    )


def test_the_scan_covers_the_packages_that_call_out() -> None:
    scanned = {str(path.relative_to(ROOT)) for path in python_files()}
    assert "apps/endpoints/services/collection.py" in scanned
    assert "apps/playground/runner.py" in scanned
    assert "apps/gateway/views.py" in scanned


@pytest.mark.parametrize(
    "source",
    [
        "import httpx\nhttpx.Client()",
        "import httpx\nasync def f():\n    async with httpx.AsyncClient() as c: ...",
        "import httpx as h\nh.get('http://169.254.169.254/')",
        "import httpx\nhttpx.stream('GET', url)",
        "import httpx\nt = httpx.HTTPTransport()",
        "import httpx\nclass Mine(httpx.Client): ...",
        "from httpx import Client\nClient()",
        "from httpx import AsyncClient as C",
        "import requests\nrequests.get(url)",
        "from requests import Session",
        "import urllib.request\nurllib.request.urlopen(url)",
        "from urllib.request import urlopen",
        "from urllib import request",
        "import urllib3",
        "import http.client",
        "from http.client import HTTPConnection",
        "import socket\nsocket.create_connection(('10.0.0.1', 80))",
        "from socket import create_connection",
        "import aiohttp",
        "import httpcore",
        "import asyncio\nasyncio.open_connection('10.0.0.1', 80)",
        "import anyio\nanyio.connect_tcp('10.0.0.1', 80)",
        "import importlib\nimportlib.import_module('requests')",
        "from importlib import import_module\nimport_module('urllib.request')",
        "__import__('socket')",
    ],
)
def test_the_scan_flags_each_way_around_the_guard(source: str) -> None:
    assert scan(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "import httpx\ndef f(client: httpx.Client) -> httpx.Response: ...",
        "import httpx\ntimeout = httpx.Timeout(5.0)",
        "import httpx\ntry:\n    pass\nexcept httpx.HTTPError:\n    pass",
        "from apps.core.http import make_client\nwith make_client(timeout=5) as c: ...",
        "import urllib.parse\nurllib.parse.urlsplit('http://x/')",
        "from urllib.parse import urlsplit",
        "import asyncio\nasyncio.sleep(1)",
        "import importlib\nimportlib.import_module('apps.endpoints.seed')",
    ],
)
def test_the_scan_lets_guarded_and_harmless_uses_through(source: str) -> None:
    assert scan(source) == []
