#!/usr/bin/env python3
"""A stand-in for an API behind `tokvault curl` (an ADME/OSDU service, say), on plain HTTP.

    api-echo-server.py LOG

Listens on 127.0.0.1 (a free port, printed on the first line of stdout) and appends each
request to LOG as one JSON line: method, path, headers (as a list of [name, value]) and body.
A path holding /slow waits 2 s before answering (for a look at /proc meanwhile),
/invalid-token and /claims answer 401 with the RFC 6750 challenge Entra ID's APIs send;
anything else 200 with {"path": …}.
"""
import http.server
import json
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace") if length else ""
        with open(sys.argv[1], "a") as log:
            log.write(json.dumps({"method": self.command, "path": self.path,
                                  "headers": [[k, v] for k, v in self.headers.items()], "body": body}) + "\n")
        if "/slow" in self.path:
            time.sleep(2)
        status, extra = 200, []
        if "/invalid-token" in self.path:
            status, extra = 401, [("WWW-Authenticate", 'Bearer realm="", error="invalid_token", '
                                   'error_description="The access token has expired"')]
        elif "/claims" in self.path:
            status, extra = 401, [("WWW-Authenticate", 'Bearer realm="", error="insufficient_claims", '
                                   'claims="eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19"')]
        payload = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
