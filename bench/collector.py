"""One collection cycle of many slow endpoints: concurrent, not one after the other.

N simulated vLLM endpoints (one loopback server, a path per endpoint) each answer
``/metrics`` after 200 ms. The cycle goes through the real path: claim the due
endpoints with one conditional UPDATE, poll them concurrently through the guarded
HTTP client, store deltas and roll up. A sequential cycle would take N x 200 ms.

    .venv/bin/python bench/collector.py [--endpoints 500] [--delay 0.2] [--concurrency 250]

Uses its own SQLite database in a temporary folder unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class SlowMetrics(BaseHTTPRequestHandler):
    """Answers every ``/<endpoint>/metrics`` with vLLM counters after a delay."""

    delay = 0.2
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add 40 ms a response
    served = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        time.sleep(self.delay)
        with self.lock:
            type(self).served += 1
            count = type(self).served
        body = (
            "# TYPE vllm:prompt_tokens_total counter\n"
            f'vllm:prompt_tokens_total{{engine="0",model_name="bench"}} {count * 100}.0\n'
            "# TYPE vllm:generation_tokens_total counter\n"
            f'vllm:generation_tokens_total{{engine="0",model_name="bench"}} {count * 10}.0\n'
            "# TYPE vllm:request_success_total counter\n"
            f'vllm:request_success_total{{engine="0",finished_reason="stop",model_name="bench"}} {count}.0\n'
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "text/plain; version=0.0.4")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 2048  # hundreds of polls connect at once


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--sample", type=int, default=10, help="sequential sample size")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="portal-bench-")
    os.environ.setdefault("PORTAL_VAR_DIR", folder)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ["ENDPOINT_ALLOWED_NETWORKS"] = "127.0.0.0/8"
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()
    from django.core.management import call_command

    from apps.endpoints import services
    from apps.endpoints.models import ServingEndpoint, UsageSample

    call_command("migrate", verbosity=0)
    SlowMetrics.delay = args.delay
    server = Server(("127.0.0.1", 0), SlowMetrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    ServingEndpoint.objects.filter(name__startswith="bench-").delete()
    ServingEndpoint.objects.bulk_create(
        ServingEndpoint(name=f"bench-{i:05d}", kind="vllm", base_url=f"{base}/e{i}")
        for i in range(args.endpoints)
    )
    ids = list(
        ServingEndpoint.objects.filter(name__startswith="bench-").values_list(
            "pk", flat=True
        )
    )

    # Sequential: a sample, extrapolated (the whole would take N x delay).
    sample = ids[: args.sample]
    started = time.perf_counter()
    services.collect_endpoints_inline(endpoint_ids=sample, concurrency=1)
    sequential = (time.perf_counter() - started) / len(sample) * len(ids)

    # Two cycles: the first reads every counter's baseline, the second stores
    # the increases (samples and daily rollups): the steady state.
    cycles = []
    for _ in range(2):
        ServingEndpoint.objects.filter(pk__in=ids).update(next_poll_at=None)
        started = time.perf_counter()
        results = services.collect_endpoints_inline(concurrency=args.concurrency)
        cycles.append(time.perf_counter() - started)
    concurrent = cycles[-1]
    server.shutdown()

    ok = sum(result.ok for result in results)
    failed = [result for result in results if not result.ok]
    print(
        f"endpoints           {len(ids)} (each answers after {args.delay * 1000:.0f} ms)"
    )
    print(f"polled              {len(results)}, ok {ok}, failed {len(failed)}")
    if failed:
        print(f"first failure       {failed[0].message}")
    print(
        f"sequential (est.)   {sequential:8.2f} s  ({len(sample)} polled one by one, scaled)"
    )
    print(
        f"first cycle         {cycles[0]:8.2f} s  (baselines; concurrency {args.concurrency})"
    )
    print(f"concurrent cycle    {concurrent:8.2f} s  (increases stored and rolled up)")
    if args.delay:
        print(
            f"cycle / delay       {concurrent / args.delay:8.1f} x  the time of one poll"
        )
    print(
        f"concurrent / seq.   {concurrent / sequential:8.3f}    ({sequential / concurrent:.0f} x faster)"
    )
    print(
        f"samples stored      {UsageSample.objects.filter(endpoint_id__in=ids).count()}"
    )
    from django.db import connections

    connections.close_all()
    shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok == len(ids) else 1


if __name__ == "__main__":
    raise SystemExit(main())
