#!/usr/bin/env python3
"""A DNS server whose UDP answers are truncated (stdlib only).

Over UDP, a query for proxy.lab.test gets a NOERROR answer with TC=1
and an empty answer section (RFC 1035 4.1.1: "TrunCation"), which tells
the client to ask again over TCP (RFC 1035 4.2.2, RFC 7766 5). Other
names get NXDOMAIN. In mode `tcp` the same address also answers over TCP
(RFC 1035 4.2.2: each message behind a two-byte big-endian length; RFC
7766 6.2.1: several queries per connection): proxy.lab.test A is the
server's address, AAAA has no records, other names NXDOMAIN. In mode
`udp-only` nothing listens on TCP, so the server's kernel answers the
client's SYN with RST.

Usage: dns_truncate.py ADDR PORT tcp|udp-only
"""

import socket
import socketserver
import struct
import sys
import threading

from dns_wire import parse_query

NAME = b"\x05proxy\x03lab\x04test\x00"
TYPE_A = 1
RCODE_NXDOMAIN = 3


def parse_question(query):
    """(id, flags, question bytes, qtype) of `query`, or None."""
    parsed = parse_query(query)
    if parsed is None or not parsed[2]:  # not a query, or no question
        return None
    qid, flags, question = parsed
    qtype = struct.unpack("!H", question[-4:-2])[0]
    return qid, flags, question, qtype


def answer(query, addr, over_tcp):
    """The response to `query` (raw bytes), or None when it is not a query."""
    parsed = parse_question(query)
    if parsed is None:
        return None
    qid, flags, question, qtype = parsed
    ours = question[:-4].lower() == NAME
    rcode = 0 if ours else RCODE_NXDOMAIN
    # QR, the query's opcode and RD, RA.
    out_flags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode
    records = b""
    if ours and not over_tcp:
        out_flags |= 0x0200  # TC: the answer did not fit, ask over TCP
    elif ours and qtype == TYPE_A:
        # Name pointer to offset 12, type A, class IN, TTL 60, 4 bytes.
        records = struct.pack("!HHHIH", 0xC00C, TYPE_A, 1, 60, 4)
        records += socket.inet_aton(addr)
    ancount = 1 if records else 0
    header = struct.pack("!HHHHHH", qid, out_flags, 1, ancount, 0, 0)
    return header + question + records


def read_exactly(conn, n):
    """`n` bytes from `conn`, or None at end of stream."""
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class TcpHandler(socketserver.BaseRequestHandler):
    """One connection: length-prefixed queries until the client closes."""

    def handle(self):
        while True:
            head = read_exactly(self.request, 2)
            if head is None:
                return
            query = read_exactly(self.request, struct.unpack("!H", head)[0])
            if query is None:
                return
            reply = answer(query, self.server.answer_addr, True)
            if reply is not None:
                self.request.sendall(struct.pack("!H", len(reply)) + reply)


def main():
    addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode not in ("tcp", "udp-only"):
        sys.exit(f"dns_truncate.py: mode must be tcp or udp-only, not {mode}")
    if mode == "tcp":
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        tcp = socketserver.ThreadingTCPServer((addr, port), TcpHandler)
        tcp.daemon_threads = True
        tcp.answer_addr = addr
        threading.Thread(target=tcp.serve_forever, daemon=True).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    print(f"dns_truncate.py: truncating UDP on {addr}:{port}, {mode}", flush=True)
    while True:
        query, peer = sock.recvfrom(4096)
        reply = answer(query, addr, False)
        if reply is not None:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
