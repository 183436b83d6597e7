"""A local stand-in for the Materials Project REST API, serving the JSON fixtures (tests only)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

FIXTURES = Path(__file__).parent / "fixtures"
API_KEY = "0123456789abcdefABCDEF0123456789"  # 32 characters, like a real key


@dataclass
class FakeMaterialsProject:
    """Documents served per route, injected failures, and a log of every request.

    ``failures[(route, skip)]`` lists HTTP statuses answered (and consumed) before the page is served;
    ``echo_key_in_errors`` makes error bodies quote the key received, like a careless server would.
    """

    summary: list[dict]
    elasticity: list[dict]
    heartbeat: dict
    api_key: str = API_KEY
    failures: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    echo_key_in_errors: bool = False
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @classmethod
    def from_fixtures(cls) -> FakeMaterialsProject:
        def load(name: str) -> object:
            return json.loads((FIXTURES / name).read_text(encoding="utf-8"))

        return cls(load("mp_summary.json"), load("mp_elasticity.json"), load("mp_heartbeat.json"))

    def pages(self, route: str) -> list[int]:
        """The ``_skip`` of every request made to ``route``."""
        return [int(params.get("_skip", 0)) for path, params in self.requests if path == route]

    def respond(self, path: str, params: dict[str, str], key: str | None) -> tuple[int, dict]:
        route = path.strip("/")
        if route == "heartbeat":
            return 200, self.heartbeat
        self.requests.append((route, params))
        if key != self.api_key:
            detail = f"invalid API key {key}" if self.echo_key_in_errors else "invalid API key"
            return 401, {"detail": detail}
        documents = {"materials/summary": self.summary, "materials/elasticity": self.elasticity}.get(route)
        if documents is None:
            return 404, {"detail": "not found"}
        skip, limit = int(params.get("_skip", 0)), int(params.get("_limit", 1000))
        pending = self.failures.get((route, skip))
        if pending:
            status = pending.pop(0)
            detail = f"unavailable (key {key})" if self.echo_key_in_errors else "service unavailable"
            return status, {"detail": detail}
        fields = params.get("_fields", "").split(",") if params.get("_fields") else None
        page = documents[skip : skip + limit]
        if fields:
            page = [{k: v for k, v in doc.items() if k in fields} for doc in page]
        return 200, {"data": page, "meta": {"total_doc": len(documents), "max_limit": 1000}}


@contextmanager
def serve(fake: FakeMaterialsProject) -> Iterator[str]:
    """Serve ``fake`` on 127.0.0.1 (a free port) in a thread; yields the endpoint URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            status, body = fake.respond(url.path, params, self.headers.get("x-api-key"))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # keep test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
