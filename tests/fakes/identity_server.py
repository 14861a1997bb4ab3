"""Loopback managed-identity token endpoint, as Azure Functions/App Service expose it
(IDENTITY_ENDPOINT + IDENTITY_HEADER, api-version 2019-08-01)."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeIdentity:
    """GET /msi/token?resource=... with X-IDENTITY-HEADER -> a bearer token. Counts requests."""

    def __init__(self, token: str = "fake-mi-token", secret: str = "fake-identity-header") -> None:
        self.token, self.secret = token, secret
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                owner.requests.append({"path": url.path, "query": query,
                                       "header": self.headers.get("X-IDENTITY-HEADER")})
                if url.path != "/msi/token" or self.headers.get("X-IDENTITY-HEADER") != owner.secret:
                    return self._send(400, {"error": "invalid_request", "error_description": "bad header"})
                body = {"access_token": owner.token, "expires_on": str(int(time.time()) + 3600),
                        "resource": query.get("resource", ""), "token_type": "Bearer",
                        "client_id": "00000000-0000-0000-0000-00000000c1d0"}
                self._send(200, body)

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}/msi/token"

    def env(self) -> dict[str, str]:
        """Environment variables that make ManagedIdentityCredential use this endpoint."""
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.secret}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def live_azure(monkeypatch, arm=None, *, graph=None, token: str = "fake-mi-token"):
    """A live run's environment on loopback: a managed identity issuing ``token``, the fake ARM
    (``arm``: a server with ``url`` and ``ca_path``; its CA trusted) and, optionally, the fake Graph.
    Yields the identity (closed on exit)."""
    identity = FakeIdentity(token=token)
    try:
        for name, value in identity.env().items():
            monkeypatch.setenv(name, value)
        if arm is not None:
            monkeypatch.setenv("KV_AUDIT_ARM_ENDPOINT", arm.url)
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(arm.ca_path))
        if graph is not None:
            monkeypatch.setenv("KV_AUDIT_GRAPH_ENDPOINT", graph.url)
        yield identity
    finally:
        identity.close()
