#!/usr/bin/env python3
"""An OpenID SSF receiver that knows Warden only by its issuer.

It serves an RFC 8935 push endpoint. At the first SET it discovers the
transmitter: GET <issuer>/.well-known/ssf-configuration, checks that the
metadata's issuer is the one it was given, then GETs the JWKS at the
metadata's jwks_uri. Every pushed SET is verified with that JWKS alone
(PyJWT, independent of Warden's code): signature by the key its kid names,
typ secevent+jwt, iss = the discovered issuer, one event whose type the
metadata lists in events_supported. Verified SETs get 202; anything else
gets 400 with an RFC 8935 error body. A tampered copy of every SET (one
payload character changed) must fail verification, so a receiver that
accepted anything could not pass.

When stopped (SIGTERM), it writes a summary as JSON to SUMMARY.

  ssf_receiver.py ISSUER PORT_FILE SUMMARY
"""
import json
import os
import signal
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

issuer, port_file, summary_path = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()
state = {"metadata": None, "jwks": None, "verified": [], "rejected": [],
         "tampered_accepted": 0, "kids": []}


def discover():
    base = issuer.rstrip("/")
    with urllib.request.urlopen(base + "/.well-known/ssf-configuration", timeout=5) as r:
        metadata = json.load(r)
    if metadata.get("issuer") != issuer:
        raise ValueError(f"metadata issuer {metadata.get('issuer')!r} is not {issuer!r}")
    with urllib.request.urlopen(metadata["jwks_uri"], timeout=5) as r:
        jwks = json.load(r)
    return metadata, jwks


def verify(token, metadata, jwks):
    header = jwt.get_unverified_header(token)
    if header.get("typ") != "secevent+jwt":
        raise ValueError(f"typ {header.get('typ')!r}")
    keys = {k["kid"]: k for k in jwks["keys"]}
    jwk = keys.get(header.get("kid"))
    if jwk is None:
        raise ValueError(f"kid {header.get('kid')!r} is not in the JWKS")
    key = jwt.PyJWK.from_dict(jwk)
    claims = jwt.decode(token, key.key, algorithms=[jwk["alg"]], issuer=metadata["issuer"],
                        options={"verify_aud": False, "require": ["iss", "iat", "jti"]})
    events = claims.get("events", {})
    if len(events) != 1:
        raise ValueError(f"{len(events)} events")
    (kind,) = events
    if kind not in metadata.get("events_supported", []):
        raise ValueError(f"event {kind} is not in events_supported")
    return header["kid"], kind, claims


def tamper(token):
    head, payload, sig = token.split(".")
    i = len(payload) // 2
    c = "A" if payload[i] != "A" else "B"
    return ".".join([head, payload[:i] + c + payload[i + 1:], sig])


class Push(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with lock:
            try:
                if state["metadata"] is None:
                    state["metadata"], state["jwks"] = discover()
                kid, kind, claims = verify(body, state["metadata"], state["jwks"])
                try:
                    verify(tamper(body), state["metadata"], state["jwks"])
                    state["tampered_accepted"] += 1
                except Exception:
                    pass
                state["verified"].append({"jti": claims["jti"], "event": kind, "kid": kid})
                status, reply = 202, b""
            except Exception as e:
                state["rejected"].append(str(e))
                status = 400
                reply = json.dumps({"err": "invalid_request", "description": str(e)}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Push)


def stop(*_):
    with lock:
        out = dict(state)
        out["jwks_kids"] = [k["kid"] for k in (state["jwks"] or {"keys": []})["keys"]]
        with open(summary_path, "w") as f:
            json.dump(out, f)
    threading.Thread(target=server.shutdown).start()


signal.signal(signal.SIGTERM, stop)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
