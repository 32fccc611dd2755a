"""The OAuth side of the Sheets sandbox: a service account and a JWT-bearer token endpoint.

google-auth signs an assertion with the service account's private key and trades it for an
access token at `token_uri`; the sandbox checks that signature with the public key, the
audience and the expiry, exactly the checks that make a wrong key or clock fail for real.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_SECONDS = 3600
CLOCK_SKEW = 300
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # what google-auth always signs


class GrantError(ValueError):
    """An assertion the token endpoint refuses (OAuth `invalid_grant`)."""


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass
class ServiceAccount:
    """A generated RSA key pair with the identity fields of a Google service-account file."""

    client_email: str = "handoff-sync@handoff-sandbox.iam.gserviceaccount.com"
    project_id: str = "handoff-sandbox"
    key_id: str = field(default_factory=lambda: secrets.token_hex(20))
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def info(self, token_uri: str) -> dict[str, Any]:
        """The JSON a user downloads from the Google Cloud console, pointing at `token_uri`."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + self.client_email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }


class TokenIssuer:
    """Verifies JWT-bearer assertions and remembers the access tokens it handed out."""

    def __init__(self, accounts: list[ServiceAccount]):
        self.accounts = {a.client_email: a for a in accounts}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (client_email, expires_at)
        self.issued = 0
        self._lock = threading.Lock()

    def grant(self, body: bytes, audience: str) -> dict[str, Any]:
        """Answer a token request (form-encoded) or raise GrantError."""
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if form.get("grant_type") != JWT_BEARER:
            raise GrantError("Invalid grant_type.")
        email = self.verify(form.get("assertion", ""), audience)
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = (email, time.time() + TOKEN_SECONDS)
            self.issued += 1
        return {"access_token": token, "expires_in": TOKEN_SECONDS, "token_type": "Bearer"}

    def verify(self, assertion: str, audience: str) -> str:
        """Check signature, issuer, audience and times; returns the service account's e-mail."""
        parts = assertion.split(".")
        if len(parts) != 3:
            raise GrantError(
                "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
            )
        try:
            header = json.loads(_b64decode(parts[0]))
            claims = json.loads(_b64decode(parts[1]))
            signature = _b64decode(parts[2])
        except ValueError:
            raise GrantError("Invalid JWT: not decodable.") from None
        account = self.accounts.get(str(claims.get("iss")))
        if header.get("alg") != "RS256" or account is None:
            raise GrantError("Invalid JWT Signature.")
        try:
            account.key.public_key().verify(
                signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise GrantError("Invalid JWT Signature.") from None
        now = time.time()
        if claims.get("aud") not in {audience, GOOGLE_TOKEN_AUDIENCE}:
            raise GrantError(f"Invalid JWT: audience must be {GOOGLE_TOKEN_AUDIENCE}.")
        if not (claims.get("iat", 0) - CLOCK_SKEW <= now <= claims.get("exp", 0) + CLOCK_SKEW):
            raise GrantError(
                "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
            )
        if not claims.get("scope"):
            raise GrantError("Invalid JWT: no scope requested.")
        return account.client_email

    def caller(self, authorization: str | None) -> str | None:
        """The service account behind a `Bearer` header, or None when unknown or expired."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        with self._lock:
            found = self.tokens.get(authorization[7:])
        if found is None or found[1] < time.time():
            return None
        return found[0]
