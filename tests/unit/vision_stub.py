"""A local HTTP stand-in for Azure AI Vision Image Analysis 4.0, answering with the documented response shape."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class VisionStub:
    """POST /computervision/imageanalysis:analyze answers `tags`; `status` other than 200 answers an error."""

    def __init__(self, tags: list[tuple[str, float]], status: int = 200, delay: float = 0) -> None:
        self.tags = tags
        self.status = status
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(stub.delay)
                if stub.status != 200:
                    payload = {"error": {"code": "InternalServerError", "message": "stub failure"}}
                else:
                    payload = {
                        "modelVersion": "2023-10-01",
                        "metadata": {"width": 64, "height": 48},
                        "tagsResult": {"values": [{"name": n, "confidence": c} for n, c in stub.tags]},
                    }
                data = json.dumps(payload).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> VisionStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
