"""Loopback HTTPS fake of the Azure Monitor Logs Ingestion API (a data collection endpoint).

``POST /dataCollectionRules/{immutableId}/streams/{stream}?api-version=2023-01-01`` with a bearer
token and a gzip-compressed JSON array body. Scripted faults: ``throttle`` (429 + Retry-After for
the first N requests), ``max_rows`` (413 above that many rows per request) and ``fail_streams``
(500 for every request to those streams).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from tests.fakes.tls import self_signed, server_context


@dataclass
class Received:
    rule_id: str
    stream: str
    rows: list
    encoding: str | None
    at: float
    status: int


@dataclass
class FakeIngestion:
    folder: Path
    token: str = "fake-mi-token"
    rule_id: str = "dcr-00000000000000000000000000000001"
    throttle: int = 0
    retry_after: str = "1"
    max_rows: int | None = None
    fail_streams: set = field(default_factory=set)
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cert, key = self_signed(self.folder)
        owner = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                url = urlparse(self.path)
                parts = [unquote(p) for p in url.path.strip("/").split("/")]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = self.headers.get("Content-Encoding")
                if self.headers.get("Authorization") != f"Bearer {owner.token}":
                    return self._send(401, {"error": {"code": "InvalidToken"}})
                if len(parts) != 4 or parts[0] != "dataCollectionRules" or parts[2] != "streams":
                    return self._send(404, {"error": {"code": "NotFound"}})
                if parse_qs(url.query).get("api-version") != ["2023-01-01"]:
                    return self._send(400, {"error": {"code": "InvalidApiVersion"}})
                if parts[1] != owner.rule_id:
                    return self._send(404, {"error": {"code": "InvalidDcrImmutableId"}})
                rows = json.loads(gzip.decompress(body) if encoding == "gzip" else body)
                with lock:
                    throttled = sum(1 for r in owner.requests if r.status == 429) < owner.throttle
                    if throttled:
                        status = 429
                    elif parts[3] in owner.fail_streams:
                        status = 500
                    elif owner.max_rows is not None and len(rows) > owner.max_rows:
                        status = 413
                    else:
                        status = 204
                    owner.requests.append(Received(parts[1], parts[3], rows, encoding, time.monotonic(), status))
                if status == 429:
                    return self._send(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": owner.retry_after})
                if status != 204:
                    return self._send(status, {"error": {"code": {413: "ContentLengthLimitExceeded"}.get(status, "Internal")}})
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = server_context(self.cert, key).wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self.endpoint = f"https://127.0.0.1:{self._server.server_address[1]}"

    def accepted(self, stream: str) -> list:
        return [row for r in self.requests if r.stream == stream and r.status == 204 for row in r.rows]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
