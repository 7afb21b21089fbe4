"""A real HTTP server on 127.0.0.1 that serves EduGraph release files, for download paths."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import ONTOLOGY_V04_RDF

ROUTES = {
    "/good/v0.4.0/core-ontology.rdf": ONTOLOGY_V04_RDF.read_bytes(),
    "/html/v0.4.0/core-ontology.rdf": b"<html><body>Rate limited</body></html>",
    "/binary/v0.4.0/core-ontology.rdf": b"\x89PNG\r\n\x1a\n{garbage",
}


class ReleaseHandler(BaseHTTPRequestHandler):
    """Serves ROUTES; anything else is a 404."""

    def do_GET(self) -> None:
        body = ROUTES.get(self.path)
        self.send_response(200 if body is not None else 404)
        body = body if body is not None else b"Not Found"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


class ReleaseServer:
    """A release server on an ephemeral 127.0.0.1 port that a test can stop."""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), ReleaseHandler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # A short poll interval keeps shutdown() quick.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
