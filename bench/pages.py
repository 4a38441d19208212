"""Bytes a browser transfers and Lighthouse scores for three pages, as deployed.

Runs the portal as production does (DEBUG=0, collectstatic into whitenoise's
compressed, fingerprinted storage, uvicorn) on a fresh SQLite database with the demo
data, then for the portfolio (board), a use-case page (requester) and the intake
form (requester), in Debian's Chromium through Playwright:

- cold: the browser cache emptied, the page loaded and scrolled to the end (so the
  lazily drawn charts load too), every byte on the wire counted (headers included);
- warm: the same page opened again by a link (not a reload), cache kept.

Then Lighthouse (npm ``lighthouse@12.2.3``, ``make`` installs it) scores performance
and accessibility for each page, signed in through a session cookie.

The control, measured in the same run, is the same walk against the same data
served as ``make run`` serves it (DEBUG=1: static files uncompressed, max-age=0).
Targets (issue 15): <= 1 MB cold, <= 100 KB warm, performance >= 90,
accessibility >= 95. Reported, not asserted.

    .venv/bin/python bench/pages.py [--no-lighthouse] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
COLD_TARGET = 1_000_000
WARM_TARGET = 100_000


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(PORTAL_VAR_DIR=str(var_dir), LOG_LEVEL="WARNING")
    return env


def production_env(var_dir: Path) -> dict[str, str]:
    """DEBUG=0 over plain HTTP on loopback: secure-only cookies and redirects off."""
    return {
        **base_env(var_dir),
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 50,
        "FIELD_ENCRYPTION_KEY": "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI=",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
    }


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "portal.asgi:application",
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the portal did not start")


class Walker:
    """One Chromium; counts bytes per navigation through the DevTools protocol."""

    def __init__(self, playwright) -> None:  # type: ignore[no-untyped-def]
        self.browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )

    def signed_in(self, base: str, username: str):  # type: ignore[no-untyped-def]
        context = self.browser.new_context(base_url=base)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        return context, page

    @staticmethod
    def transferred(page, url: str, *, cold: bool) -> int:  # type: ignore[no-untyped-def]
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        if cold:
            cdp.send("Network.clearBrowserCache")
        total = 0

        def finished(event: dict) -> None:  # type: ignore[type-arg]
            nonlocal total
            total += int(event["encodedDataLength"])

        cdp.on("Network.loadingFinished", finished)
        # A plain navigation, as a link is (a reload would revalidate everything).
        page.goto(url, wait_until="networkidle")
        # Scroll a screen at a time, as a reader does, so each lazy chart is seen.
        while page.evaluate(
            "() => { const before = window.scrollY; window.scrollBy(0, innerHeight);"
            " return window.scrollY > before; }"
        ):
            page.wait_for_timeout(100)
        page.wait_for_load_state("networkidle")
        cdp.detach()
        return total


def lighthouse(url: str, cookie: str) -> dict[str, float]:
    out = subprocess.run(
        [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            "--only-categories=performance,accessibility",
            f"--chrome-path={CHROMIUM}",
            "--chrome-flags=--headless=new --no-sandbox",
            "--extra-headers",
            json.dumps({"Cookie": cookie}),
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    categories = json.loads(out)["categories"]
    return {k: round(v["score"] * 100) for k, v in categories.items()}


def kb(n: float) -> str:
    return f"{n / 1000:,.0f} KB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-lighthouse", action="store_true")
    args = parser.parse_args()
    if not (ROOT / "node_modules" / "plotly.js-basic-dist-min").is_dir():
        raise SystemExit("run `make bench` (or npm ci) first: package.json's assets")

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    prod = production_env(tmp)
    debug = {**base_env(tmp), "DEBUG": "1"}
    log("Preparing a fresh database with the demo data and collecting static files...")
    manage("migrate", "--noinput", env=debug)
    manage("seed_demo", env=debug)
    manage("collectstatic", "--noinput", env=prod)
    servers = {"deployed": free_port(), "make run (control)": free_port()}
    procs = [
        serve(prod, servers["deployed"]),
        serve(debug, servers["make run (control)"]),
    ]
    try:
        with sync_playwright() as playwright:
            walker = Walker(playwright)
            results: dict[tuple[str, str], dict[str, list[int]]] = {}
            cookies: dict[tuple[str, str], str] = {}
            pages: list[tuple[str, str, str]] = []
            for setup, port in servers.items():
                base = f"http://127.0.0.1:{port}"
                board_ctx, board = walker.signed_in(base, "board")
                req_ctx, req = walker.signed_in(base, "requester")
                req.goto("/use-cases/?scope=team")
                case = req.locator("table a[href^='/use-cases/']").first
                case_url = case.get_attribute("href") or "/use-cases/"
                pages = [
                    ("Portfolio (board)", "board", "/portfolio/"),
                    ("A use-case (requester)", "requester", case_url),
                    ("Intake form (requester)", "requester", "/use-cases/new/"),
                ]
                for name, who, url in pages:
                    page = board if who == "board" else req
                    results[(setup, name)] = {"cold": [], "warm": []}
                    cookies[(setup, name)] = "; ".join(
                        f"{c['name']}={c['value']}" for c in page.context.cookies()
                    )
                    for _ in range(args.repeat):
                        results[(setup, name)]["cold"].append(
                            walker.transferred(page, base + url, cold=True)
                        )
                        results[(setup, name)]["warm"].append(
                            walker.transferred(page, base + url, cold=False)
                        )
                board_ctx.close()
                req_ctx.close()
            walker.browser.close()

        log(f"\nBytes on the wire, median of {args.repeat} (range):")
        log(f"{'page':26} {'setup':20} {'cold':>22} {'warm':>22}")
        for name, _who, _url in pages:
            for setup in servers:
                row = results[(setup, name)]
                cells = []
                for kind in ("cold", "warm"):
                    values = row[kind]
                    cells.append(
                        f"{kb(statistics.median(values))} "
                        f"({kb(min(values))}-{kb(max(values))})"
                    )
                log(f"{name:26} {setup:20} {cells[0]:>22} {cells[1]:>22}")
            prod_row = results[("deployed", name)]
            ctrl_row = results[("make run (control)", name)]
            ratio = statistics.median(prod_row["cold"]) / statistics.median(
                ctrl_row["cold"]
            )
            cold_ok = statistics.median(prod_row["cold"]) <= COLD_TARGET
            warm_ok = statistics.median(prod_row["warm"]) <= WARM_TARGET
            log(
                f"{'':26} deployed/control cold: {ratio:.2f}x; targets "
                f"cold <= 1 MB {'met' if cold_ok else 'MISSED'}, "
                f"warm <= 100 KB {'met' if warm_ok else 'MISSED'}"
            )

        if args.no_lighthouse or not LIGHTHOUSE.exists():
            log("\nLighthouse skipped.")
            return 0
        log("\nLighthouse 12.2.3 (mobile, simulated throttling), deployed setup:")
        base = f"http://127.0.0.1:{servers['deployed']}"
        for name, _who, url in pages:
            scores = lighthouse(base + url, cookies[("deployed", name)])
            perf, a11y = scores["performance"], scores["accessibility"]
            log(
                f"{name:26} performance {perf:3d} ({'met' if perf >= 90 else 'MISSED'}"
                f" >= 90)  accessibility {a11y:3d} "
                f"({'met' if a11y >= 95 else 'MISSED'} >= 95)"
            )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
