#!/usr/bin/env python3
"""A webhook receiver for the tests: appends every POST it gets to a JSON-lines log (path,
headers, body) and answers 200, or, with --hang, takes the request and never answers.
Usage: webhook_receiver.py PORT LOG [--hang]. Writes LOG.ready once it listens."""
import http.server
import json
import sys
import threading


def main():
    port, log = int(sys.argv[1]), sys.argv[2]
    hang = "--hang" in sys.argv[3:]
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            with lock, open(log, "a", encoding="utf-8") as out:
                out.write(json.dumps({"path": self.path, "headers": dict(self.headers),
                                      "body": body}) + "\n")
            if hang:
                threading.Event().wait()
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    with open(log + ".ready", "w", encoding="utf-8") as ready:
        ready.write("ready\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
