"""Differential check of Switchyard's HTTP/1.1 session against Python's h11.

usage: differential.py --replay "BINARY http-replay" [--corpus DIR] [--known FILE]
       differential.py --h11-only [--corpus DIR]

Every file in the corpus (default: Tests/fuzz/corpus/*.http, sorted by name)
is one connection's input bytes. Our side runs once, as the replay command
(split like a shell would) followed by every file path:

    BINARY http-replay DIR/a.http DIR/b.http ...

and must print one JSON object per line per file, in argument order:

    {"file": "DIR/a.http", "requests": [{"method": "GET", "target": "/a", "body": 5}],
     "outcome": "complete"|"incomplete"|"rejected"|"closed", "status": 400}

(requests: every request the session accepted and answered, target as on the
request line, body = decoded body bytes; complete = the input was whole
requests and the connection stays open; incomplete = the input ends inside a
request; rejected = an error status (status, else null) answered the next
request and the session closes; closed = a request ended the connection and
the bytes after it were not read.)

h11 gets the same bytes on a server-side Connection, without EOF (our side
never sees EOF either: it runs out of input), answering each request with an
empty 200. A file agrees when the request lists (method, target, body bytes)
and outcomes match; `closed` and `complete` count as the same when the
request lists match (neither side found a further request). Status codes are
shown, not compared.

The known-differences file lists files expected to differ, one a line:
    <file name>  <RFC clause>: <one-line reason>
with `#` comments. Exit status: 0 when every difference is listed and every
listed file still differs; 1 on an unlisted difference or a stale entry; 2 on
a usage error (a listed file not in the corpus, a malformed line, a replay
that fails or prints the wrong thing, h11 missing).

--h11-only prints h11's reading of every file and exits 0.

The known differences are for Debian's python3-h11 0.14.0-1.1~deb12u1, which
carries the fix for CVE-2025-43859 (the CRLF after chunk data is checked);
upstream 0.14.0 from PyPI does not check it and would accept some chunk-line
files that both sides should reject. Run with the system /usr/bin/python3.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys

try:
    import h11
except ImportError:
    sys.exit("differential.py: needs h11 (Debian: apt-get install python3-h11; "
             "run with the system /usr/bin/python3)")

HERE = os.path.dirname(os.path.abspath(__file__))
OUTCOMES = ("complete", "incomplete", "rejected", "closed")


def fail(message):
    print("differential.py: " + message, file=sys.stderr)
    sys.exit(2)


# MARK: h11 side

def h11_read(data):
    """What h11 makes of one connection's bytes, in the replay's JSON shape."""
    conn = h11.Connection(h11.SERVER)
    if data:  # receive_data(b"") would mean EOF, which our side never sees
        conn.receive_data(data)
    requests, current = [], None

    def result(outcome, status=None, note=None):
        r = {"requests": requests, "outcome": outcome, "status": status}
        if note:
            r["note"] = note
        return r

    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as e:
            return result("rejected", e.error_status_hint, str(e))
        if isinstance(event, h11.Request):
            current = {"method": event.method.decode("latin-1"),
                       "target": event.target.decode("latin-1"), "body": 0}
        elif isinstance(event, h11.Data):
            current["body"] += len(event.data)
        elif isinstance(event, h11.EndOfMessage):
            requests.append(current)
            current = None
            try:
                conn.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
                if conn.our_state is h11.SWITCHED_PROTOCOL:
                    # A 2xx to CONNECT: the connection is a tunnel now, no more HTTP.
                    return result("closed", note="h11 switched protocol")
                conn.send(h11.EndOfMessage())
            except h11.LocalProtocolError as e:
                return result("error", note="h11 refused our response: %s" % e)
            if (conn.our_state is h11.MUST_CLOSE
                    or conn.their_state in (h11.MUST_CLOSE, h11.CLOSED)):
                return result("closed")
            conn.start_next_cycle()
        elif event is h11.PAUSED:
            # After a request h11 pauses until start_next_cycle (done above) or,
            # for Upgrade/CONNECT, while a protocol switch is pending or done.
            if conn.their_state is h11.DONE and conn.our_state is h11.DONE:
                conn.start_next_cycle()
                continue
            return result("closed", note="h11 paused in %s/%s" % (conn.their_state, conn.our_state))
        elif event is h11.NEED_DATA:
            leftover = conn.trailing_data[0]
            if current is None and conn.their_state is h11.IDLE and not leftover:
                return result("complete")
            return result("incomplete")
        elif isinstance(event, h11.ConnectionClosed):
            return result("closed")
        else:
            return result("error", note="unexpected h11 event %r" % (event,))


# MARK: our side

def run_replay(command, paths):
    argv = shlex.split(command) + paths
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        fail("replay %r failed: %s" % (command, e))
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        fail("replay exited %d" % proc.returncode)
    lines = [l for l in proc.stdout.decode("utf-8", "replace").splitlines() if l.strip()]
    if len(lines) != len(paths):
        fail("replay printed %d lines for %d files" % (len(lines), len(paths)))
    results = []
    for path, line in zip(paths, lines):
        try:
            r = json.loads(line)
        except ValueError as e:
            fail("replay line for %s is not JSON (%s): %s" % (path, e, line[:200]))
        if r.get("file") != path:
            fail("replay line for %s names %r (order must follow the arguments)" % (path, r.get("file")))
        if r.get("outcome") not in OUTCOMES or not isinstance(r.get("requests"), list):
            fail("replay line for %s lacks a valid outcome or requests: %s" % (path, line[:200]))
        for q in r["requests"]:
            if not (isinstance(q, dict) and isinstance(q.get("method"), str)
                    and isinstance(q.get("target"), str) and isinstance(q.get("body"), int)):
                fail("replay line for %s has a malformed request %r" % (path, q))
        results.append(r)
    return results


# MARK: comparison

def requests_key(r):
    return [(q["method"], q["target"], q["body"]) for q in r["requests"]]


def agree(ours, theirs):
    if requests_key(ours) != requests_key(theirs):
        return False
    a, b = ours["outcome"], theirs["outcome"]
    return a == b or {a, b} == {"closed", "complete"}


def summary(r):
    """`GET /a 0, POST /u 5 -> rejected 400` in a column's width."""
    reqs = ", ".join("%s %s %d" % (q["method"], q["target"], q["body"]) for q in r["requests"])
    if len(reqs) > 40:
        reqs = reqs[:37] + "..."
    tail = r["outcome"] + (" %s" % r["status"] if r.get("status") is not None else "")
    return (reqs + " -> " if reqs else "") + tail


def read_known(path, names):
    known = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        fail("cannot read %s: %s" % (path, e))
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(None, 1)
        where = "%s:%d" % (path, number)
        if len(parts) < 2 or ":" not in parts[1]:
            fail("%s: expected '<file name>  <RFC clause>: <reason>'" % where)
        name = parts[0]
        if name in known:
            fail("%s: %s is listed twice" % (where, name))
        if name not in names:
            fail("%s: %s is not in the corpus" % (where, name))
        known[name] = parts[1]
    return known


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replay", help='our side, e.g. "./.build/debug/switchyard http-replay"')
    ap.add_argument("--h11-only", action="store_true", help="print h11's reading of each file and exit 0")
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--known", default=os.path.join(HERE, "known-differences.txt"))
    args = ap.parse_args()
    if bool(args.replay) == args.h11_only:
        ap.error("give exactly one of --replay and --h11-only")

    try:
        names = sorted(n for n in os.listdir(args.corpus) if n.endswith(".http"))
    except OSError as e:
        fail("cannot list %s: %s" % (args.corpus, e))
    if not names:
        fail("no .http files in %s" % args.corpus)
    paths = [os.path.join(args.corpus, n) for n in names]
    theirs = []
    for p in paths:
        with open(p, "rb") as f:
            theirs.append(h11_read(f.read()))
    width = max(len(n) for n in names)

    if args.h11_only:
        print("h11 %s, %d files" % (h11.__version__, len(names)))
        for n, t in zip(names, theirs):
            print("%-*s  %s%s" % (width, n, summary(t), "  (%s)" % t["note"] if t.get("note") else ""))
        return 0

    known = read_known(args.known, set(names))
    ours = run_replay(args.replay, paths)
    counts = {"agree": 0, "differs-listed": 0, "DIFFERS": 0, "STALE": 0}
    print("h11 %s, %d files" % (h11.__version__, len(names)))
    print("%-*s  %-14s  %-46s  %s" % (width, "file", "verdict", "switchyard", "h11"))
    for n, o, t in zip(names, ours, theirs):
        same = agree(o, t)
        if same:
            verdict = "STALE" if n in known else "agree"
        else:
            verdict = "differs-listed" if n in known else "DIFFERS"
        counts[verdict] += 1
        mine, h11s = summary(o), summary(t)
        print("%-*s  %-14s  %-46s  %s" % (width, n, verdict, mine, "same" if h11s == mine else h11s))
    print("%d agree, %d listed differences, %d unlisted differences, %d stale entries"
          % (counts["agree"], counts["differs-listed"], counts["DIFFERS"], counts["STALE"]))
    if counts["DIFFERS"]:
        print("DIFFERS: fix the parser, or list the file in %s with the RFC clause that allows it"
              % os.path.relpath(args.known))
    if counts["STALE"]:
        print("STALE: the listed file no longer differs; remove its entry from %s"
              % os.path.relpath(args.known))
    return 1 if counts["DIFFERS"] or counts["STALE"] else 0


if __name__ == "__main__":
    sys.exit(main())
