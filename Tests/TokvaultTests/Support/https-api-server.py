#!/usr/bin/env python3
"""A stand-in for a Kubernetes API server behind TLS, for kubectl's exec credential tests.

    https-api-server.py CERT KEY LOG

Listens on 127.0.0.1 (a free port, printed on the first line of stdout), answers every GET
with 200 and a small JSON body when it carries `Authorization: Bearer …` (401 otherwise), and
appends each request's Authorization header to LOG. client-go sends credentials only over
TLS, so the fake provider's plain HTTP will not do.
"""
import http.server
import json
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        with open(sys.argv[3], "a") as log:
            log.write(auth + "\n")
        ok = auth.startswith("Bearer ")
        body = json.dumps({"kind": "Status", "path": self.path, "authorized": ok}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
