"""`make run`: web (ASGI), Celery worker and beat, and the demo's model servers together.

The demo model servers are stand-ins for real vLLM deployments; the portal polls and
calls them like any other endpoint. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORT = os.environ.get("PORT", "8000")

# Ports and models match apps/endpoints/seed.py's demo endpoints; a port already
# taken is swapped for a free one, and the demo endpoint is pointed at it.
DEMO_MODEL_SERVERS = [
    ("8101", "meta-llama/Llama-3.1-8B-Instruct"),
    ("8102", "meta-llama/Llama-3.1-70B-Instruct"),
]
# Django serves static files through whitenoise's file iterators under ASGI, and
# says so on every file; harmless for `make run`, and noise on a newcomer's console.
QUIET_WARNINGS = "ignore:StreamingHttpResponse must consume synchronous iterators"


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def demo_ports() -> list[tuple[str, str, str]]:
    """(seeded port, port to use, model) for each demo model server."""
    chosen = []
    for port, model in DEMO_MODEL_SERVERS:
        use = port if port_is_free(int(port)) else free_port()
        if use != port:
            print(f"  Port {port} is taken: the {model} demo server uses {use}.")
        chosen.append((port, use, model))
    return chosen


def point_demo_endpoints(ports: list[tuple[str, str, str]]) -> None:
    """Point each seeded demo endpoint at the port its server really uses (and back
    to the seeded one once it is free again)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from apps.endpoints.models import ServingEndpoint
    from apps.endpoints.seed import ENDPOINTS

    names = {spec["base_url"]: spec["name"] for spec in ENDPOINTS}
    for seeded, use, _model in ports:
        name = names.get(f"http://127.0.0.1:{seeded}")
        if name:
            ServingEndpoint.objects.filter(name=name).update(
                base_url=f"http://127.0.0.1:{use}"
            )


def gateway_demo_lines() -> str:
    """The demo gateway key that `seed_demo` left in var/ (demo only), and a curl."""
    var_dir = Path(os.environ.get("PORTAL_VAR_DIR", ROOT / "var"))
    try:
        key = (var_dir / "gateway-demo-key").read_text().strip()
    except OSError:
        return ""
    if not key:
        return ""
    body = '{"model":"auto","messages":[{"role":"user","content":"Hello"}]}'
    return (
        f"  Gateway demo key: {key}\n"
        f"  curl -s http://127.0.0.1:{PORT}/gateway/v1/chat/completions "
        f'-H "Authorization: Bearer {key}" '
        f"-H 'content-type: application/json' -d '{body}'\n"
    )


def main() -> int:
    if not port_is_free(int(PORT)):
        print(f"  Port {PORT} is taken: run `make run PORT=8080` (or another).")
        return 1
    commands = []
    if (ROOT / "scripts" / "fake_vllm.py").exists():
        ports = demo_ports()
        point_demo_endpoints(ports)
        for _seeded, port, model in ports:
            commands.append(
                [
                    sys.executable,
                    "scripts/fake_vllm.py",
                    "--port",
                    port,
                    "--model",
                    model,
                ]
            )
    commands += [
        [
            str(BIN / "uvicorn"),
            "portal.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            PORT,
            "--log-level",
            "warning",
        ],
        [
            str(BIN / "celery"),
            "-A",
            "portal",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "8",
            "--loglevel",
            "warning",
        ],
        [str(BIN / "celery"), "-A", "portal", "beat", "--loglevel", "warning"],
    ]
    env = {**os.environ, "PYTHONWARNINGS": QUIET_WARNINGS}
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env) for cmd in commands]
    time.sleep(2)
    print(
        f"\n  AI Portfolio Portal: http://127.0.0.1:{PORT}/\n"
        "  Sign in as requester, board, platform, procurement or auditor; "
        f"password: demo\n{gateway_demo_lines()}  Ctrl-C stops everything.\n",
        flush=True,
    )

    def stop(*_: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        stop()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
