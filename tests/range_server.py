"""The far end of media downloads in tests: a loopback HTTP server serving `files` by path, honouring Range, keeping a
request log, and cutting short the first transfer of the path in `truncate_once` (so a client must resume)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RangeServer:
    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.log: list[tuple[str, str | None]] = []
        self.truncate_once: str | None = None
        far = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                path, rng = self.path.split("?")[0], self.headers.get("Range")
                far.log.append((self.path, rng))
                body = far.files.get(path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(rng[6:].split("-")[0] or 0) if rng and rng.startswith("bytes=") else 0
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                part = body[start:]
                self.send_header("Content-Type", "video/mp4" if path.endswith(".mp4") else "application/octet-stream")
                self.send_header("Content-Length", str(len(part)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if far.truncate_once == path and start == 0:
                    far.truncate_once = None
                    self.wfile.write(part[: len(part) // 3])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(part)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
