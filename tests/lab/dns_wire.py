"""What the lab's DNS servers read of a query (stdlib only): the header
and the first question (RFC 1035 4.1.1, 4.1.2)."""

import struct


def parse_query(query):
    """(id, flags, question bytes or b"" when QDCOUNT is 0) of `query`;
    None when it is shorter than a header, a response, or its first
    question runs past its end."""
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000:  # a response, not a query
        return None
    if qdcount < 1:
        return qid, flags, b""
    # Labels up to the root, then type and class.
    end = 12
    while end < len(query) and query[end] != 0:
        end += 1 + query[end]
    end += 5
    if end > len(query):
        return None
    return qid, flags, query[12:end]
