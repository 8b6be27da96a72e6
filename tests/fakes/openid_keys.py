"""A fake Bot Framework token issuer: OpenID metadata + JWKS served from a real HTTP server.

botframework-connector fetches the metadata and the keys with a blocking `requests.get`
inside the async turn, so this server runs in its own thread (http.server): served from the
test's event loop it would deadlock. Tokens are signed with PyJWT and an RSA test key, and
validated by botframework-connector's own code — nothing in the SDK is patched.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"
METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class OpenIdKeys:
    """Publishes one signing key (endorsed for the given channels) and signs tokens with it."""

    endorsements: tuple[str, ...] = ("msteams", "emulator")
    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    kid: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:12]}")
    fetches: list[str] = field(default_factory=list)
    base_url: str = ""

    @property
    def metadata_url(self) -> str:
        return self.base_url + METADATA_PATH

    def metadata(self) -> dict[str, Any]:
        # The shape of https://login.botframework.com/v1/.well-known/openidconfiguration.
        return {
            "issuer": ISSUER,
            "authorization_endpoint": "https://invalid.botframework.com",
            "jwks_uri": self.base_url + KEYS_PATH,
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "endorsements": list(self.endorsements)})
        return {"keys": [jwk]}

    def token(
        self,
        *,
        audience: str,
        service_url: str,
        issuer: str = ISSUER,
        expires_in: int = 3600,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """A channel-to-bot token like the Bot Connector sends (RS256, kid in the header)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + expires_in,
            **(extra or {}),
        }
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    @contextmanager
    def serve(self) -> Iterator[OpenIdKeys]:
        """Serve metadata and keys on 127.0.0.1 in a background thread."""
        keys = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == METADATA_PATH:
                    body = keys.metadata()
                elif self.path == KEYS_PATH:
                    body = keys.jwks()
                else:
                    self.send_error(404)
                    return
                keys.fetches.append(self.path)
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output quiet

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, name="openid-keys", daemon=True)
        thread.start()
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
