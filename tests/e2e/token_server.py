#!/usr/bin/env python3
"""A Docker token server for the reference registry (distribution's `auth: token`), for tests.

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...] with Basic credentials of the one
user it knows answers {"token", "access_token", "expires_in"}: a JWT (RS256, signed by
`openssl dgst -sign` with KEY, the certificate CERT in its x5c header, which distribution checks
against its rootcertbundle) granting the actions asked for. Wrong credentials answer 401;
none at all get a token that grants nothing, as Docker Hub's does for anonymous pulls.
Each request is one JSON line on stdout.

Usage: token_server.py PORT KEY CERT ISSUER USER PASSWORD
"""
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT, KEY, CERT, ISSUER, USER, PASSWORD = sys.argv[1:7]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der() -> bytes:
    return subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"],
                          check=True, capture_output=True).stdout


X5C = base64.b64encode(cert_der()).decode()


def sign(claims: dict) -> str:
    header = {"alg": "RS256", "typ": "JWT", "x5c": [X5C]}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY, "-binary"],
                               input=signing_input, check=True, capture_output=True).stdout
    return signing_input.decode() + "." + b64url(signature)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def reply(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        auth = self.headers.get("Authorization", "")
        user = ""
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                user, password = "?", ""
            if user != USER or password != PASSWORD:
                print(json.dumps({"refused": user}), flush=True)
                return self.reply(401, {"details": "wrong credentials"})
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and name and user:
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user, "aud": query.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()),
                  "access": access}
        print(json.dumps({"user": user, "access": access}), flush=True)
        token = sign(claims)
        self.reply(200, {"token": token, "access_token": token, "expires_in": 300})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
