#!/usr/bin/env python3
"""Check a Doorstep log export offline, without Doorstep's code.

Usage: verify-export.py EXPORT.jsonl [--heads HEADS.jsonl ...] [--out DIR]

Reads the export of `doorstep export` (one event per line, in log order)
and, using only Python's standard library:

  1. recomputes every event's hash from its fields and the previous event of
     its stream (the per-stream chain), and checks versions follow 1, 2, 3...;
  2. recomputes the global chain over all events in order;
  3. for every signed head (events of stream "logchain-heads", and the heads
     in the --heads files an auditor kept), checks that the first `count`
     events end at `position` and chain to `chain`, and writes the exact
     signed message and the raw signature to DIR/head-COUNT.msg and
     DIR/head-COUNT.sig, for `openssl pkeyutl -verify` (the signatures are
     not checked here: docs/verify-offline.md, step 3).

It prints what it checked and exits 0, or names where the export differs
and exits 1. The formats are in docs/verify-offline.md and decisions 0004
and 0073.
"""
import argparse
import base64
import calendar
import datetime
import hashlib
import json
import os
import struct
import sys

ZERO = bytes(32)
HEAD_STREAM = "logchain-heads"
HEAD_TYPE = "logchain.head_signed"
HEAD_FORMAT = "doorstep-signed-head-v1"


def u64(v):
    return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)


def lp(b):
    return u64(len(b)) + b


def unix_nanos(s):
    """Nanoseconds since 1970 of an RFC 3339 instant; Go's zero time is 0."""
    if s.startswith("0001-01-01T00:00:00"):
        return 0
    if s.endswith("Z"):
        main, offset = s[:-1], 0
    else:
        main, sign, off = s[:-6], s[-6], s[-5:]
        offset = (int(off[:2]) * 3600 + int(off[3:]) * 60) * (1 if sign == "+" else -1)
    frac = ""
    if "." in main:
        main, frac = main.split(".")
    dt = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S")
    secs = calendar.timegm(dt.timetuple()) - offset
    return secs * 10**9 + int((frac + "000000000")[:9])


def event_hash(prev, e):
    """The per-stream hash (decision 0004): SHA-256 of the previous hash and
    the event's fields, each length-prefixed."""
    m = e.get("metadata", {})
    h = hashlib.sha256()
    h.update(prev)
    h.update(lp(bytes.fromhex(e["id"].replace("-", ""))))
    h.update(lp(e["stream"].encode()))
    h.update(u64(e["version"]))
    h.update(lp(e["type"].encode()))
    h.update(u64(e["schema_version"]))
    h.update(lp(base64.b64decode(e["data_base64"])))
    h.update(u64(unix_nanos(m.get("occurred_at", "0001-01-01T00:00:00Z"))))
    for k in ("actor", "role", "command_id", "correlation_id", "causation_id", "community", "grid", "key_id"):
        h.update(lp(m.get(k, "").encode()))
    h.update(u64(unix_nanos(e["recorded_at"])))
    return h.digest()


def position(s):
    """A position's two numbers: "12" is (0, 12), "7.12" is (7, 12)."""
    if "." in s:
        hi, lo = s.split(".")
        return int(hi), int(lo)
    return 0, int(s)


def global_link(prev, n, e, own_hash):
    """G(n) = SHA-256(G(n-1) | n | position | len(stream) | stream | version | id | hash)."""
    hi, lo = position(e["position"])
    stream = e["stream"].encode()
    return hashlib.sha256(prev + u64(n) + u64(hi) + u64(lo) + u64(len(stream)) + stream +
                          u64(e["version"]) + bytes.fromhex(e["id"].replace("-", "")) + own_hash).digest()


def message(h):
    return ("%s\nkey_id %s\ncount %d\nposition %s\nchain %s\nsigned_at %s\n" % (
        HEAD_FORMAT, h["key_id"], h["count"], h["position"], h["chain"], h["signed_at"])).encode()


def fail(msg):
    print("BROKEN: " + msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export")
    ap.add_argument("--heads", action="append", default=[], help="a file of signed heads kept apart (one JSON object per line)")
    ap.add_argument("--out", default="heads-to-verify", help="directory for the signed messages and signatures")
    a = ap.parse_args()

    heads = []
    for path in a.heads:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    heads.append(json.loads(line))

    last = {}      # stream -> (version, hash)
    chain = [(ZERO, "")]  # chain[n] = (G(n), position of event n)
    with open(a.export, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except ValueError as err:
                fail("line %d is not a JSON object: %s" % (lineno, err))
            v, prev = last.get(e["stream"], (0, ZERO))
            where = "line %d, stream %s version %s, position %s" % (lineno, e["stream"], e["version"], e["position"])
            if e["version"] != v + 1:
                fail("%s: the version does not follow the stream's previous one (%d)" % (where, v))
            own = event_hash(prev, e)
            if own.hex() != e["hash"]:
                fail("%s: the hash does not match the event's contents and the previous link" % where)
            last[e["stream"]] = (e["version"], own)
            n = len(chain)
            chain.append((global_link(chain[-1][0], n, e, own), e["position"]))
            if e["stream"] == HEAD_STREAM and e["type"] == HEAD_TYPE:
                heads.append(json.loads(base64.b64decode(e["data_base64"])))

    total = len(chain) - 1
    seen = {}
    for h in heads:
        if h.get("format") != HEAD_FORMAT:
            fail("a head of format %r, not %s" % (h.get("format"), HEAD_FORMAT))
        seen.setdefault(h["count"], h)
    os.makedirs(a.out, exist_ok=True)
    previous = "0"
    for count in sorted(seen):
        h = seen[count]
        if count > total and total > 0 and position(chain[-1][1]) >= position(h["position"]):
            fail("between position %s and position %s: events were deleted: the signed head of event #%d says event #%d is at position %s, but the export has only %d events, though it goes on to position %s" % (
                previous, h["position"], count, count, h["position"], total, chain[-1][1]))
        if count > total:
            fail("between position %s and position %s: the export was cut short: the signed head of event #%d vouches for events up to position %s, but the export has only %d events" % (
                previous, h["position"], count, h["position"], total))
        g, pos = chain[count]
        if pos != h["position"] or g.hex() != h["chain"]:
            fail("between position %s and position %s: the export differs from the signed head of event #%d (signed: event #%d at position %s; export: at position %s%s)" % (
                previous, h["position"], count, count, h["position"], pos, ", the chain differs" if pos == h["position"] else ""))
        with open(os.path.join(a.out, "head-%d.msg" % count), "wb") as f:
            f.write(message(h))
        with open(os.path.join(a.out, "head-%d.sig" % count), "wb") as f:
            f.write(base64.b64decode(h["signature"]))
        with open(os.path.join(a.out, "head-%d.key_id" % count), "w") as f:
            f.write(h["key_id"] + "\n")
        previous = h["position"]
    newest = max(seen) if seen else 0
    print("chains recomputed: %d events, %d streams; %d signed heads match the global chain; the newest covers %d events, %d later events are not covered" % (
        total, len(last), len(seen), newest, total - newest))
    print("now check each signature (docs/verify-offline.md, step 3): the files are in %s/" % a.out)


if __name__ == "__main__":
    main()
