"""Which loop each client lands on, read from the server's own counters.

usage: distribution_clients.py BINARY MODE [serve flags...]
  restart  process mode (2 workers x 2 loops): for 12 client addresses, the
           (process, loop) each lands on, twice; then one worker is killed
           (SIGKILL), and once the supervisor has restarted it, the same
           again. With a hashing policy (--accept hash or reuseport-hash)
           every client must land where it did; exits 1 otherwise.
  level    process mode (2 workers x 2 loops) with a load-aware policy
           (--accept p2c or least-loaded): 64 connections held open; the
           live connections of the four loops must stay within a few of
           each other (two choices over every worker's loops), and some must
           have been handed between workers. Exits 1 otherwise.
  moved    for --clients addresses (default 1000), where each lands with
           --threads N, then with --threads N+1 (or --processes P, then P+1,
           with --workers processes): the share of clients that moved,
           against 1/(N+1), printed as one CSV line
           (policy,mode,before,after,clients,moved,share,ideal).
A client is a loopback source address (127.0.x.y): it connects, asks for
/health, and closes; the loop whose accepted-connections counter grew took
it (the scrape connection stays open, so it is never counted again).
"""
import http.client, os, re, signal, socket, subprocess, sys, tempfile, time

SERIES = re.compile(r'^switchyard_worker_connections_accepted_total\{(?:process="(\d+)",generation="\d+",)?worker="([^"]+)"\} (\S+)$', re.M)


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    return port


def start(binary, port, flags):
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([binary, "serve", "--port", str(port)] + flags, stdout=log, stderr=log)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return server, log
        except OSError:
            time.sleep(0.05)
    server.kill(); log.seek(0)
    sys.exit("server did not start: " + log.read().decode(errors="replace")[-2000:])


def stop(server):
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)


class Placement:
    """Reads per-loop accepted counters over one keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.scraper = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=("127.255.255.254", 0))
        self.counts = self.settle()

    def settle(self):
        """Counts once two scrapes 50 ms apart agree: connections made before
        (the start-up probe, this scraper) may still be on their way in."""
        counts = self.scrape()
        for _ in range(60):
            time.sleep(0.05)
            again = self.scrape()
            if again == counts:
                break
            counts = again
        return counts

    def scrape(self):
        self.scraper.request("GET", "/metrics")
        text = self.scraper.getresponse().read().decode()
        counts = {}
        for process, worker, value in SERIES.findall(text):
            counts[(process, worker)] = float(value)
        # Process mode: only the per-process series are loops (the unlabelled ones sum over processes).
        if any(p for p, _ in counts):
            counts = {k: v for k, v in counts.items() if k[0]}
        return counts

    def loop_of(self, source, attempts=3):
        """The loop that took one new connection from `source`; asked again
        (after the counts settle) if something else connected meanwhile."""
        for attempt in range(attempts):
            grown = self.connect_once(source)
            if len(grown) == 1:
                return "/".join(x for x in grown[0] if x)
            self.counts = self.settle()
        sys.exit(f"{len(grown)} loops took the connection from {source}, {attempts} times")

    def connect_once(self, source):
        client = socket.socket()
        client.bind((source, 0))
        client.settimeout(20)
        client.connect(("127.0.0.1", self.port))
        client.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        while client.recv(65536):
            pass
        client.close()
        for _ in range(100):
            after = self.scrape()
            grown = [k for k, v in after.items() if v != self.counts.get(k, 0)]
            if grown:
                break
            time.sleep(0.01)  # a hand-off from the acceptor may not have reached its loop yet
        self.counts = after
        return grown


def addresses(count):
    return [f"127.{1 + i // 62500}.{(i // 250) % 250 + 1}.{i % 250 + 1}" for i in range(count)]


def mapping(binary, flags, sources):
    port = free_port()
    server, _ = start(binary, port, flags)
    try:
        placement = Placement(port)
        return {source: placement.loop_of(source) for source in sources}
    finally:
        stop(server)


def option(flags, name, default):
    return int(flags[flags.index(name) + 1]) if name in flags else default


def replaced(flags, name, value):
    out = list(flags)
    if name in out:
        out[out.index(name) + 1] = str(value)
    else:
        out += [name, str(value)]
    return out


def main():
    binary, mode, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
    policy = flags[flags.index("--accept") + 1] if "--accept" in flags else "reuseport"
    if mode == "restart":
        flags = flags + ["--workers", "processes", "--processes", "2", "--threads", "2"]
        port = free_port()
        server, log = start(binary, port, flags)
        try:
            placement = Placement(port)
            sources = addresses(12)
            first = {s: placement.loop_of(s) for s in sources}
            again = {s: placement.loop_of(s) for s in sources}
            pids = subprocess.run(["pgrep", "-f", "--", f"--port {port} .*--process-slot 1"], capture_output=True, text=True).stdout.split()
            if not pids:
                sys.exit("no worker for slot 1 found")
            os.kill(int(pids[0]), signal.SIGKILL)
            for _ in range(200):
                now = subprocess.run(["pgrep", "-f", "--", f"--port {port} .*--process-slot 1"], capture_output=True, text=True).stdout.split()
                if now and now != pids:
                    break
                time.sleep(0.05)
            time.sleep(0.5)  # its metrics socket comes up once it serves
            placement = Placement(port)
            after = {s: placement.loop_of(s) for s in sources}
        finally:
            stop(server)
        used = sorted(set(first.values()))
        moved = [s for s in sources if not (first[s] == again[s] == after[s])]
        print(f"{policy}: 12 clients on {len(used)} of 4 loops ({', '.join(used)}); {len(moved)} moved across a worker restart")
        sys.exit(1 if moved or len(used) < 2 else 0)
    if mode == "level":
        flags = flags + ["--workers", "processes", "--processes", "2", "--threads", "2"]
        port = free_port()
        server, log = start(binary, port, flags)
        try:
            held = []
            for _ in range(64):
                client = socket.create_connection(("127.0.0.1", port), timeout=20)
                client.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
                client.recv(65536)
                held.append(client)
            scraper = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            scraper.request("GET", "/metrics")
            text = scraper.getresponse().read().decode()
        finally:
            stop(server)
        open_ = [float(v) for v in re.findall(r'^switchyard_worker_connections_open\{process="\d+",generation="\d+",worker="[^"]+"\} (\S+)$', text, re.M)]
        sent = sum(float(v) for v in re.findall(r'^switchyard_acceptor_handoffs_total\{process="\d+",generation="\d+",outcome="sent"\} (\S+)$', text, re.M))
        spread = max(open_) - min(open_) if open_ else -1
        print(f"{policy}: live connections per loop {[int(v) for v in open_]} (spread {spread:.0f}); {sent:.0f} handed between workers")
        # 65 connections (with the scrape's) over 4 loops: two choices keep the
        # spread at 2-3 (above 8 in about 1 run in 100,000 by simulation).
        sys.exit(0 if len(open_) == 4 and 0 <= spread <= 8 and sent > 0 else 1)
    if mode == "moved":
        clients = option(flags, "--clients", 1000)
        if "--clients" in flags:
            i = flags.index("--clients"); flags = flags[:i] + flags[i + 2:]
        sources = addresses(clients)
        processes = "--workers" in flags and flags[flags.index("--workers") + 1] == "processes"
        name = "--processes" if processes else "--threads"
        before = option(flags, name, 2 if processes else 8)
        a = mapping(binary, replaced(flags, name, before), sources)
        b = mapping(binary, replaced(flags, name, before + 1), sources)
        moved = sum(1 for s in sources if a[s] != b[s])
        print(f"{policy},{'processes' if processes else 'loops'},{before},{before + 1},{clients},{moved},"
              f"{moved / clients:.4f},{1 / (before + 1):.4f}")
        return
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
