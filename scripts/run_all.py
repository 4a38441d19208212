"""`make run`: web (ASGI), Celery worker and beat, and the demo's model servers together.

The demo model servers are stand-ins for real vLLM deployments; the portal polls and
calls them like any other endpoint. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORT = os.environ.get("PORT", "8000")

# Ports and models match apps/endpoints/seed.py's demo endpoints.
DEMO_MODEL_SERVERS = [
    ("8101", "meta-llama/Llama-3.1-8B-Instruct"),
    ("8102", "meta-llama/Llama-3.1-70B-Instruct"),
]


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
    commands = []
    if (ROOT / "scripts" / "fake_vllm.py").exists():
        for port, model in DEMO_MODEL_SERVERS:
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
    procs = [subprocess.Popen(cmd, cwd=ROOT) for cmd in commands]
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
