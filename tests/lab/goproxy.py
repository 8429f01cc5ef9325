#!/usr/bin/env python3
"""The lab's module proxy, in the server namespace (stdlib only).

Serves a static GOPROXY tree like `python3 -m http.server`, or misbehaves
in one chosen way so the e2e tests can watch what Go makes of it:

  plain            serve the tree
  tls CERT KEY     serve the tree over HTTPS with CERT/KEY (a self-signed
                   certificate the client does not trust)
  status N         answer every request with HTTP status N, a CONNECT too
                   (so it also serves as a forward proxy refusing
                   HTTP_PROXY/HTTPS_PROXY requests)
  reset            send the status line, headers and part of the body, then
                   abort the connection with an RST (SO_LINGER {1, 0})
  close            read the request head, then close the connection (FIN)
                   without a response
  reset-request    read the request head, then abort the connection with
                   an RST without a response
  tls-alert CERT KEY
                   HTTPS whose server offers only TLS 1.2 with a cipher
                   suite Go does not (CAMELLIA128-SHA): it ends every
                   handshake with a cleartext handshake_failure alert
  silent           accept TCP connections and never read from or write to
                   them (a TLS client's ClientHello is ACKed by the kernel
                   and never answered)

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

    # A forward proxy gets `CONNECT host:port` for an https:// URL
    # (RFC 9110 9.3.6) and `GET http://...` (absolute form) for http://.
    do_CONNECT = do_GET


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


class CloseHandler(http.server.BaseHTTPRequestHandler):
    """Reads the request head and ends the connection without a response."""

    abort = False

    def do_GET(self):
        if self.abort:
            # l_onoff=1, l_linger=0: the close sends an RST, not a FIN.
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        self.connection.close()
        self.close_connection = True

    do_CONNECT = do_GET


def serve_silent(addr, port):
    """Accepts connections and keeps them open, never reading or writing."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((addr, port))
    listener.listen(64)
    print(f"goproxy.py: silent on {addr}:{port}", flush=True)
    held = []
    while True:
        conn, _ = listener.accept()
        held.append(conn)


def main():
    addr, port, directory, mode, *args = sys.argv[1:]
    if mode in ("plain", "tls", "tls-alert"):
        handler = functools.partial(
            http.server.SimpleHTTPRequestHandler, directory=directory
        )
    elif mode == "status":
        handler = type("Handler", (StatusHandler,), {"status": int(args[0])})
    elif mode == "reset":
        handler = ResetHandler
    elif mode in ("close", "reset-request"):
        handler = type("Handler", (CloseHandler,), {"abort": mode != "close"})
    elif mode == "silent":
        serve_silent(addr, int(port))
        return
    else:
        sys.exit(f"goproxy.py: unknown mode {mode!r}")
    server = http.server.ThreadingHTTPServer((addr, int(port)), handler)
    if mode in ("tls", "tls-alert"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[0], args[1])
        if mode == "tls-alert":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers("CAMELLIA128-SHA:@SECLEVEL=0")
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"goproxy.py: {mode} {args} on {addr}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
