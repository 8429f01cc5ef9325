#!/usr/bin/env python3
"""A DNS server that answers every query with one fixed rcode (stdlib only).

The lab uses it for SERVFAIL (2) and REFUSED (5): dnsmasq cannot be told
to fail on purpose. Each answer echoes the query's id, opcode, RD bit and
question, sets QR and RA, and carries no records.

Usage: dns_rcode.py ADDR PORT RCODE
"""

import socket
import struct
import sys

from dns_wire import parse_query


def answer(query, rcode):
    """The response to `query` (raw bytes), or None when it is not a query."""
    parsed = parse_query(query)
    if parsed is None:
        return None
    qid, flags, question = parsed
    opcode_rd = flags & 0x7900  # opcode bits and RD
    out_flags = 0x8000 | opcode_rd | 0x0080 | (rcode & 0xF)
    header = struct.pack("!HHHHHH", qid, out_flags, 1 if question else 0, 0, 0, 0)
    return header + question


def main():
    addr, port, rcode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    print(f"dns_rcode.py: rcode {rcode} on {addr}:{port}", flush=True)
    while True:
        query, peer = sock.recvfrom(4096)
        reply = answer(query, rcode)
        if reply is not None:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
