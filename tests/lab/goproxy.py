#!/usr/bin/env python3
"""The lab's module proxy, in the server namespace (stdlib only).

Serves a static GOPROXY tree like `python3 -m http.server`, or misbehaves
in one chosen way so the e2e tests can watch what Go makes of it:

  plain            serve the tree
  tls CERT KEY     serve the tree over HTTPS with CERT/KEY (a self-signed
                   certificate the client does not trust)
  status N         answer every request with HTTP status N
  reset            send the status line, headers and part of the body, then
                   abort the connection with an RST (SO_LINGER {1, 0})

Usage: goproxy.py ADDR PORT DIR MODE [ARGS...]
"""

import functools
import http.server
import socket
import ssl
import struct
import sys


class StatusHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with the configured status and a short body."""

    status = 500

    def do_GET(self):
        body = f"gotrace lab: configured status {self.status}\n".encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ResetHandler(http.server.BaseHTTPRequestHandler):
    """Promises 4096 bytes, sends 100, then resets the connection."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "4096")
        self.end_headers()
        self.wfile.write(b"x" * 100)
        self.wfile.flush()
        # l_onoff=1, l_linger=0: close() discards the socket with an RST
        # instead of a FIN, which Go reads as ECONNRESET.
        self.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.connection.close()
        self.close_connection = True


def main():
    addr, port, directory, mode, *args = sys.argv[1:]
    if mode in ("plain", "tls"):
        handler = functools.partial(
            http.server.SimpleHTTPRequestHandler, directory=directory
        )
    elif mode == "status":
        handler = type("Handler", (StatusHandler,), {"status": int(args[0])})
    elif mode == "reset":
        handler = ResetHandler
    else:
        sys.exit(f"goproxy.py: unknown mode {mode!r}")
    server = http.server.ThreadingHTTPServer((addr, int(port)), handler)
    if mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[0], args[1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"goproxy.py: {mode} {args} on {addr}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
