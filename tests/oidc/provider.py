"""Run the real OpenID Connect provider (tests/oidc/provider.mjs) in its own process.

The tests generate the provider's signing key, so they can also craft ID tokens
"signed by the provider" (or by another key) for the refusal tests. Accounts live
in a JSON file the provider reads on every sign-in: rewriting it is how a test
changes someone's groups, or disables them, at the identity provider.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
CLIENT_ID = "portal"
CLIENT_SECRET = "portal-test-secret"
KID = "provider-key-1"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_jwk(key: rsa.RSAPrivateKey, kid: str = KID) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    # PyJWT marks a private JWK key_ops ["sign"]; the provider also verifies with it
    # (the id_token_hint at sign-out), so "use" alone says what it is for.
    jwk.pop("key_ops", None)
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return jwk


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningProvider:
    issuer: str
    key: rsa.RSAPrivateKey
    accounts_file: Path
    process: subprocess.Popen[bytes]
    output: list[str] = field(default_factory=list)

    def set_accounts(self, accounts: dict[str, dict[str, Any]]) -> None:
        tmp = self.accounts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(accounts))
        tmp.replace(self.accounts_file)  # atomic: the provider never reads half a file

    def sign(self, claims: dict[str, Any], *, key: Any = None, kid: str = KID) -> str:
        """An ID token signed with the provider's key (or ``key``)."""
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid}
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_provider(
    *,
    directory: Path,
    redirect_uri: str,
    post_logout_uri: str,
    accounts: dict[str, dict[str, Any]],
) -> RunningProvider:
    """Start the provider on a free loopback port; returns once it listens."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError(
            "The test OpenID provider needs node and `npm ci` (make node_modules)."
        )
    key = new_rsa_key()
    jwks_file = directory / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [private_jwk(key)]}))
    accounts_file = directory / "accounts.json"
    port = free_port()
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": redirect_uri,
        "OIDC_POST_LOGOUT_URI": post_logout_uri,
        "OIDC_JWKS": str(jwks_file),
        "OIDC_ACCOUNTS": str(accounts_file),
        "NODE_ENV": "development",
    }
    process = subprocess.Popen(
        [node, str(SCRIPT)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    provider = RunningProvider(
        issuer=f"http://127.0.0.1:{port}",
        key=key,
        accounts_file=accounts_file,
        process=process,
    )
    provider.set_accounts(accounts)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    line = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            provider.output.append(line.decode(errors="replace"))
            if line.startswith(b"listening "):
                # Keep reading its output, so a chatty provider never blocks on a full pipe.
                threading.Thread(target=_drain, args=(provider,), daemon=True).start()
                return provider
            if not line and process.poll() is not None:
                break
    provider.stop()
    raise RuntimeError(
        "The OpenID provider did not start:\n" + "".join(provider.output)
    )


def _drain(provider: RunningProvider) -> None:
    assert provider.process.stdout is not None
    for line in provider.process.stdout:
        provider.output.append(line.decode(errors="replace"))
