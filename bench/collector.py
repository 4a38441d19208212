"""Collection of many vLLM endpoints: cycle time, and CPU against Prometheus.

N simulated vLLM endpoints (``scripts/fake_vllm.py``'s exposition: counters,
gauges and histograms, growing with every scrape) are served by a separate
process on loopback, a path per endpoint (``/e<i>/metrics``), each answering after
``--delay``. The portal's cycle goes through the real path
(``apps.endpoints.services.collect_endpoints_inline``): claim the due endpoints,
poll them concurrently through the guarded HTTP client, store the increases and
roll up. Printed:

- the cycle time against polling one by one (a sample, scaled);
- CPU per 1,000 scrapes of the collecting process (``time.process_time``: all its
  threads, parsing and ORM writes included; the server's CPU is not counted, nor
  PostgreSQL's when ``DATABASE_URL`` points at one);
- when Debian's ``prometheus`` is on the PATH (``apt-get install -y prometheus``),
  the same figure for Prometheus scraping the same targets in the same run (its
  own config and a temporary TSDB, ``--scrape-interval`` apart), from the
  ``utime + stime`` of ``/proc/<pid>/stat`` over a ``--window``; scrapes are
  counted by the endpoint server, by user agent. Rounds interleave: Prometheus is
  paused (SIGSTOP) while the portal collects, and resumed for its window, so
  neither competes with the other. Medians, ranges and the ratio are printed;
- the cycle's wall time against the 60 s poll interval, and the CPU share of one
  core that a cycle every 60 s takes.

    .venv/bin/python bench/collector.py [--endpoints 1000] [--delay 0.2]
        [--concurrency 100] [--rounds 5] [--window 10] [--scrape-interval 1]
        [--no-prometheus]

Uses its own SQLite database in a temporary folder unless DATABASE_URL is set.
The machine's other load shows in the ranges; compare medians. Not part of
``make test`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMETHEUS_AGENT = "Prometheus/"
TICKS = os.sysconf("SC_CLK_TCK")


# The endpoint server (a separate process, so its CPU is nobody's figure).


def serve(port_out: Any, endpoints: int, delay: float) -> None:
    """Serve ``/e<i>/metrics`` for i < endpoints, and ``/_stats`` (scrapes by agent)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from fake_vllm import Engine

    engines = [Engine("bench/model", 0, seed=i) for i in range(endpoints)]
    scrapes: Counter[str] = Counter()

    def body(path: str, agent: str) -> tuple[int, bytes]:
        if path == "/_stats":
            return 200, json.dumps(scrapes).encode()
        parts = path.split("/")  # "", "e<i>", "metrics"
        if len(parts) == 3 and parts[2] == "metrics" and parts[1][1:].isdigit():
            index = int(parts[1][1:])
            if index < endpoints:
                engine = engines[index]
                engine.record(300, 40, seconds=0.5, ttft=0.05)  # usage grows
                scrapes[
                    "prometheus" if agent.startswith(PROMETHEUS_AGENT) else "portal"
                ] += 1
                return 200, engine.exposition().encode()
        return 404, b"not found\n"

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1].split("?")[0]
                agent = ""
                for line in lines[1:]:
                    if line.lower().startswith("user-agent:"):
                        agent = line.split(":", 1)[1].strip()
                if delay and path != "/_stats":
                    await asyncio.sleep(delay)
                status, payload = body(path, agent)
                writer.write(
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        port_out.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def scrape_counts(base: str) -> Counter[str]:
    with urllib.request.urlopen(f"{base}/_stats", timeout=10) as response:
        return Counter(json.loads(response.read()))


# Prometheus.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_prometheus(
    binary: str, folder: Path, port: int, endpoints: int, interval: float
) -> tuple[subprocess.Popen[bytes], str]:
    """Prometheus scraping the same targets, with a config and TSDB of its own."""
    lines = [
        "global:",
        f"  scrape_interval: {interval:g}s",
        f"  scrape_timeout: {min(interval, 10):g}s",
        "scrape_configs:",
        "  - job_name: vllm",
        "    static_configs:",
    ]
    for i in range(endpoints):  # one path per endpoint, as the portal polls them
        lines += [
            f"      - targets: ['127.0.0.1:{port}']",
            f"        labels: {{__metrics_path__: '/e{i}/metrics', instance: 'e{i}'}}",
        ]
    config = folder / "prometheus.yml"
    config.write_text("\n".join(lines) + "\n")
    listen = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address={listen}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "prometheus.log").open("wb"),
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://{listen}/-/ready", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "prometheus did not start: "
                    + (folder / "prometheus.log").read_text()[-2000:]
                ) from None
            time.sleep(0.2)
    return process, listen


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f}  (range {min(values):.3f} to {max(values):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--sample", type=int, default=10, help="sequential sample size")
    parser.add_argument("--rounds", type=int, default=5, help="A/B rounds")
    parser.add_argument(
        "--window", type=float, default=10.0, help="Prometheus round, s"
    )
    parser.add_argument("--scrape-interval", type=float, default=1.0)
    parser.add_argument("--no-prometheus", action="store_true")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    os.environ.setdefault("PORTAL_VAR_DIR", str(folder))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ["ENDPOINT_ALLOWED_NETWORKS"] = "127.0.0.0/8"
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    context = multiprocessing.get_context("spawn")
    port_queue = context.Queue()
    server = context.Process(
        target=serve, args=(port_queue, args.endpoints, args.delay), daemon=True
    )
    server.start()
    port = port_queue.get(timeout=60)
    base = f"http://127.0.0.1:{port}"

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from apps.endpoints import services
    from apps.endpoints.models import ServingEndpoint, UsageSample

    call_command("migrate", verbosity=0)
    ServingEndpoint.objects.filter(name__startswith="bench-").delete()
    ServingEndpoint.objects.bulk_create(
        ServingEndpoint(name=f"bench-{i:05d}", kind="vllm", base_url=f"{base}/e{i}")
        for i in range(args.endpoints)
    )
    ids = list(
        ServingEndpoint.objects.filter(name__startswith="bench-")
        .order_by("name")
        .values_list("pk", flat=True)
    )

    def cycle() -> tuple[float, float, list[Any]]:
        """One cycle of every endpoint: wall seconds, CPU seconds, results."""
        ServingEndpoint.objects.filter(pk__in=ids).update(next_poll_at=None)
        cpu, wall = time.process_time(), time.perf_counter()
        results = services.collect_endpoints_inline(concurrency=args.concurrency)
        return time.perf_counter() - wall, time.process_time() - cpu, results

    # Sequential: a sample, extrapolated (the whole would take N x delay).
    sample = ids[: args.sample]
    started = time.perf_counter()
    services.collect_endpoints_inline(endpoint_ids=sample, concurrency=1)
    sequential = (time.perf_counter() - started) / len(sample) * len(ids)
    first_wall, _, _ = cycle()  # every counter's baseline

    binary = None if args.no_prometheus else shutil.which("prometheus")
    prometheus = None
    if binary:
        prometheus, _ = start_prometheus(
            binary, folder, port, args.endpoints, args.scrape_interval
        )
        time.sleep(3 * args.scrape_interval)  # every target scraped once: warm
        prometheus.send_signal(signal.SIGSTOP)

    walls: list[float] = []
    portal_cpu: list[float] = []
    prom_cpu: list[float] = []
    prom_rate: list[float] = []
    failures: list[Any] = []
    try:
        for _ in range(args.rounds):
            wall, cpu, results = cycle()
            failures += [result for result in results if not result.ok]
            walls.append(wall)
            portal_cpu.append(cpu / len(results) * 1000)
            if prometheus is not None:
                prometheus.send_signal(signal.SIGCONT)
                time.sleep(args.scrape_interval)  # back in its rhythm
                cpu0, count0 = cpu_seconds(prometheus.pid), scrape_counts(base)
                time.sleep(args.window)
                cpu1, count1 = cpu_seconds(prometheus.pid), scrape_counts(base)
                prometheus.send_signal(signal.SIGSTOP)
                scrapes = count1["prometheus"] - count0["prometheus"]
                prom_cpu.append((cpu1 - cpu0) / max(scrapes, 1) * 1000)
                prom_rate.append(scrapes / args.window)
    finally:
        if prometheus is not None:
            prometheus.send_signal(signal.SIGCONT)
            prometheus.terminate()
            prometheus.wait(timeout=30)
        server.terminate()

    concurrent = statistics.median(walls)
    cycle_cpu = statistics.median(portal_cpu) * args.endpoints / 1000
    print(
        f"endpoints            {len(ids)} (each answers after {args.delay * 1000:.0f} ms)"
    )
    print(f"rounds               {args.rounds}, failed polls {len(failures)}")
    if failures:
        print(f"first failure        {failures[0].message}")
    print(
        f"sequential (est.)    {sequential:8.2f} s  ({len(sample)} one by one, scaled)"
    )
    print(f"first cycle          {first_wall:8.2f} s  (baselines)")
    print(f"cycle, median        {concurrent:8.2f} s  (concurrency {args.concurrency})")
    print(f"concurrent / seq.    {concurrent / sequential:8.3f}")
    print(f"portal CPU s / 1,000 scrapes   {spread(portal_cpu)}")
    if prom_cpu:
        print(f"prometheus CPU s / 1,000       {spread(prom_cpu)}")
        print(f"prometheus scrapes / s         {spread(prom_rate)}")
        ratio = statistics.median(portal_cpu) / statistics.median(prom_cpu)
        print(f"portal / prometheus            {ratio:7.2f} x  (target <= 3)")
    else:
        print("prometheus                     not measured (no binary on the PATH)")
    print(
        f"cycle of {len(ids)} in 60 s       {concurrent:6.2f} s wall, "
        f"{cycle_cpu:.2f} s CPU = {cycle_cpu / 60 * 100:.1f} % of one core "
        "(target <= 25 %)"
    )
    print(
        f"samples stored       {UsageSample.objects.filter(endpoint_id__in=ids).count()}"
    )
    connections.close_all()
    shutil.rmtree(folder, ignore_errors=True)
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
