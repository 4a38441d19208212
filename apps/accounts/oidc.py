"""Single sign-on with OpenID Connect: discovery, the ID token's checks, accounts.

mozilla-django-oidc runs the authorization-code flow (state, nonce, PKCE). Its
three HTTP calls (token, JWKS, userinfo) use ``requests`` directly; they are
overridden here to go through the guarded client of :mod:`apps.core.http`, as
is discovery, so the provider's addresses pass the same SSRF guard as every
other outbound call (private networks only with ``OIDC_ALLOWED_NETWORKS``).

The library checks the signature and the nonce only; :meth:`OidcBackend.verify_token`
also requires the configured issuer, our client id in ``aud`` (and as ``azp``
when there are several audiences), an unexpired ``exp`` and a past ``iat``.

Every refusal raises :class:`SignInRefused` *before* an account is created or
changed; the callback view (apps/accounts/signin.py) turns it into a page and an
audit event. The one refusal that changes an account is deliberate: a known
user who no longer holds any mapped group is deactivated (which revokes their
API tokens and gateway keys, apps/accounts/signals.py).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from apps.core.http import UnsafeURL, make_client

from . import claim_mapping
from .models import OidcIdentity, User
from .signals import account_event

#: How long a discovery document is used before it is fetched again.
METADATA_TTL = 3600.0
_metadata: dict[str, tuple[float, dict[str, Any]]] = {}

#: What the refusal page says for each reason (the audit event keeps the detail).
REASONS = {
    "idp_error": "The identity provider did not sign you in.",
    "unknown_state": "This sign-in link was already used or did not start here. "
    "Start again from the sign-in page.",
    "nonce_mismatch": "The identity provider's answer does not belong to this sign-in "
    "(it may be a replay). Start again from the sign-in page.",
    "provider_unreachable": "The identity provider could not be reached or answered "
    "unexpectedly.",
    "token_exchange_failed": "The identity provider refused to complete the sign-in.",
    "wrong_audience": "The identity token was issued for another application.",
    "expired": "The identity token has expired.",
    "bad_signature": "The identity token's signature is not valid.",
    "unknown_issuer": "The identity token comes from an issuer this portal does not trust.",
    "malformed": "The identity token is malformed.",
    "no_mapped_group": "Your account at the identity provider is not in any group "
    "that gives access to this portal.",
    "account_disabled": "Your portal account is disabled. Ask the ML platform team.",
}


class SignInRefused(Exception):
    """A single sign-on attempt refused; nothing was created or changed."""

    def __init__(self, reason: str, detail: str = "", *, user: User | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.user = user

    @property
    def message(self) -> str:
        return REASONS.get(self.reason, "Sign-in was refused.")


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_RP_CLIENT_ID)


def _client(**kwargs: Any) -> httpx.Client:
    return make_client(
        allowed_networks=settings.OIDC_ALLOWED_NETWORKS, timeout=10.0, **kwargs
    )


def forget_metadata() -> None:
    _metadata.clear()


def metadata() -> dict[str, Any]:
    """The issuer's discovery document (cached for :data:`METADATA_TTL`)."""
    issuer = settings.OIDC_ISSUER
    cached = _metadata.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < METADATA_TTL:
        return cached[1]
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        with _client() as client:
            response = client.get(url)
            response.raise_for_status()
            document = response.json()
    except (httpx.HTTPError, UnsafeURL, ValueError) as exc:
        raise SignInRefused(
            "provider_unreachable", f"discovery at {url}: {exc}"
        ) from None
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise SignInRefused(
            "provider_unreachable",
            f"discovery names issuer {document.get('issuer')!r}, expected {issuer!r}"
            if isinstance(document, dict)
            else "discovery is not a JSON object",
        )
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(field), str):
            raise SignInRefused("provider_unreachable", f"discovery lacks {field}")
    _metadata[issuer] = (time.monotonic(), document)
    return document


class OidcBackend(OIDCAuthenticationBackend):
    """The library's backend with discovered endpoints, guarded HTTP and strict
    ID token checks; accounts are found by (issuer, subject)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Django builds every backend for every sign-in, password ones included:
        # nothing here may reach the network (the parent reads endpoints eagerly).
        self.UserModel = User

    # The parent reads these attributes; they come from discovery, on first use.
    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return str(metadata()["token_endpoint"])

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str | None:
        return metadata().get("userinfo_endpoint")

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return str(metadata()["jwks_uri"])

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return str(settings.OIDC_RP_CLIENT_ID)

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:
        return str(settings.OIDC_RP_CLIENT_SECRET)

    @property
    def OIDC_RP_SIGN_ALGO(self) -> str:
        return str(settings.OIDC_RP_SIGN_ALGO)

    OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request: Any, **kwargs: Any) -> User | None:  # type: ignore[override]
        # Only the callback view passes a nonce; password sign-ins pass through.
        if request is None or "nonce" not in kwargs or not enabled():
            return None
        return super().authenticate(request, **kwargs)  # type: ignore[no-any-return]

    def get_user(self, user_id: Any) -> User | None:  # type: ignore[override]
        # Django's check: a deactivated user's sessions end with their next request.
        return ModelBackend.get_user(self, user_id)  # type: ignore[return-value]

    # HTTP through the guarded client --------------------------------------------

    def get_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        data = dict(payload)
        auth = None
        if settings.OIDC_TOKEN_USE_BASIC_AUTH:
            auth = (data.pop("client_id"), data.pop("client_secret"))
        try:
            with _client() as client:
                response = client.post(
                    self.OIDC_OP_TOKEN_ENDPOINT, data=data, auth=auth
                )
        except (httpx.HTTPError, UnsafeURL) as exc:
            raise SignInRefused("token_exchange_failed", str(exc)) from None
        if response.status_code != 200:
            raise SignInRefused(
                "token_exchange_failed",
                f"{response.status_code}: {response.text[:300]}",
            )
        try:
            answer = response.json()
        except ValueError:
            raise SignInRefused("token_exchange_failed", "not JSON") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            raise SignInRefused("token_exchange_failed", "no id_token in the answer")
        return answer

    def retrieve_matching_jwk(self, token: str) -> jwt.PyJWK:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise SignInRefused("malformed", str(exc)) from None
        try:
            with _client() as client:
                response = client.get(self.OIDC_OP_JWKS_ENDPOINT)
                response.raise_for_status()
                keys = response.json()["keys"]
        except (httpx.HTTPError, UnsafeURL, ValueError, KeyError, TypeError) as exc:
            raise SignInRefused("provider_unreachable", f"JWKS: {exc}") from None
        for jwk in keys:
            if jwk.get("kid") == header.get("kid") and jwk.get(
                "alg", header.get("alg")
            ) == header.get("alg"):
                try:
                    return jwt.PyJWK(jwk)
                except jwt.PyJWTError as exc:
                    raise SignInRefused(
                        "provider_unreachable", f"JWKS key: {exc}"
                    ) from None
        raise SignInRefused(
            "bad_signature", f"no provider key with kid {header.get('kid')!r}"
        )

    def get_userinfo(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        endpoint = self.OIDC_OP_USER_ENDPOINT
        if not endpoint or not access_token:
            return {}
        try:
            with _client() as client:
                response = client.get(
                    endpoint, headers={"Authorization": f"Bearer {access_token}"}
                )
                response.raise_for_status()
                if (
                    response.headers.get("content-type", "")
                    .lower()
                    .startswith("application/jwt")
                ):
                    return self._decode(response.text, nonce=None)
                info = response.json()
        except (httpx.HTTPError, UnsafeURL, ValueError) as exc:
            raise SignInRefused("provider_unreachable", f"userinfo: {exc}") from None
        if not isinstance(info, dict) or info.get("sub") != payload.get("sub"):
            # OpenID Connect Core 5.3.2: the answer must be about the token's subject.
            raise SignInRefused("malformed", "userinfo is about another subject")
        return info

    # The ID token -------------------------------------------------------------

    def verify_token(self, token: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(token, str):
            raise SignInRefused("token_exchange_failed", "no id_token")
        return self._decode(token, nonce=kwargs.get("nonce"), check_nonce=True)

    def _decode(
        self, token: str, *, nonce: str | None, check_nonce: bool = False
    ) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise SignInRefused("malformed", str(exc)) from None
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SignInRefused(
                "bad_signature",
                f"alg {header.get('alg')!r}, expected {self.OIDC_RP_SIGN_ALGO}",
            )
        key = self.retrieve_matching_jwk(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER,
                leeway=settings.OIDC_CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise SignInRefused("expired", str(exc)) from None
        except jwt.InvalidAudienceError as exc:
            raise SignInRefused("wrong_audience", str(exc)) from None
        except jwt.InvalidIssuerError as exc:
            raise SignInRefused("unknown_issuer", str(exc)) from None
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError) as exc:
            raise SignInRefused("bad_signature", str(exc)) from None
        except jwt.PyJWTError as exc:
            raise SignInRefused("malformed", str(exc)) from None
        audiences = (
            claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        )
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SignInRefused("wrong_audience", f"azp {claims.get('azp')!r}")
        if check_nonce and (not nonce or claims.get("nonce") != nonce):
            raise SignInRefused("nonce_mismatch", "the nonce is not this sign-in's")
        return claims

    # The account --------------------------------------------------------------

    def get_or_create_user(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> User:
        claims = dict(payload)
        info = self.get_userinfo(access_token, id_token, payload)
        claims.update(
            {
                k: v
                for k, v in info.items()
                if k not in {"iss", "aud", "exp", "iat", "nonce"}
            }
        )
        issuer, subject = str(payload["iss"]), str(payload["sub"])
        groups = claim_mapping.groups_from_claims(claims)
        access = claim_mapping.resolve(groups)
        identity = (
            OidcIdentity.objects.select_related("user")
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        user = identity.user if identity else None
        data = {"issuer": issuer, "subject": subject, "groups": groups}
        if not access.roles:
            if user is not None and user.is_active:
                user.is_active = False
                user.save(update_fields=["is_active"])  # revokes (signals.py)
            raise SignInRefused("no_mapped_group", f"groups {groups}", user=user)
        if user is not None and not user.is_active:
            raise SignInRefused(
                "account_disabled", "deactivated in the portal", user=user
            )
        with transaction.atomic():
            if user is None:
                user = self._create_user(claims, issuer=issuer, subject=subject)
                identity = user.oidc_identity
                account_event.send(
                    sender=type(self),
                    kind="accounts.sso_user_created",
                    summary=f"Account “{user.username}” created at first single sign-on.",
                    actor=user,
                    data=data,
                )
            self._update_profile(user, claims)
            changes = claim_mapping.apply(user=user, access=access)
            if changes:
                account_event.send(
                    sender=type(self),
                    kind="accounts.sso_access_changed",
                    summary=f"Roles or team of “{user.username}” changed from the "
                    "identity provider's groups.",
                    actor=user,
                    data={**data, **changes},
                )
            assert identity is not None
            identity.last_sign_in_at = timezone.now()
            identity.save(update_fields=["last_sign_in_at"])
        return user

    def _create_user(
        self, claims: dict[str, Any], *, issuer: str, subject: str
    ) -> User:
        wanted = (
            claims.get("preferred_username")
            or str(claims.get("email") or "").split("@")[0]
        )
        base = (slugify(str(wanted)) or "user")[:140]
        username, n = base, 1
        while User.objects.filter(username=username).exists():
            n += 1
            username = f"{base}-{n}"
        user = User.objects.create_user(username)  # no usable password
        OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        return user

    @staticmethod
    def _update_profile(user: User, claims: dict[str, Any]) -> None:
        fields = {
            "email": str(claims.get("email") or "")[:254],
            "first_name": str(claims.get("given_name") or "")[:150],
            "last_name": str(claims.get("family_name") or "")[:150],
        }
        if not fields["first_name"] and claims.get("name"):
            fields["first_name"] = str(claims["name"])[:150]
        changed = [
            name for name, value in fields.items() if getattr(user, name) != value
        ]
        for name in changed:
            setattr(user, name, fields[name])
        if changed:
            user.save(update_fields=changed)
