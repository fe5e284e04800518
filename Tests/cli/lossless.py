"""Sent versus answered across a stop, a reload or a crash, as clients see it.

usage: lossless.py BINARY MODE [serve flags...]
  sigterm  32 clients send back to back; SIGTERM mid-run. Every request sent
           must be answered (the last with Connection: close), every
           connection closed cleanly, and the server must exit 0.
  sigterm-reconnect
           as sigterm, but a client whose response says
           Connection: close reconnects at once and goes on, so connections
           arrive while the workers drain. A refused connect is fine (clients
           retry it); a connection accepted and then reset is not.
  reload   process mode: 32 clients send back to back, reconnecting after a
           Connection: close; the configuration file is edited and the
           supervisor gets SIGHUP mid-run. Every request sent is answered, no
           connection is refused or reset, and /metrics shows generation 2.
  crash    process mode with --enable-crash-route: one client asks for /crash
           while 8 others send back to back. The worker's death is counted
           and it restarts; new connections keep being served meanwhile.
Prints one line of figures; exits 1 on any failure. Orders, not timings.
"""
import os, signal, socket, subprocess, sys, tempfile, threading, time

binary, mode, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
# Two milliseconds of work per request in the reconnecting stop, so drains
# overlap requests in flight as they do in service.
REQUEST = (b"GET /work?us=2000 HTTP/1.1\r\nHost: t\r\n\r\n" if mode == "sigterm-reconnect"
           else b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
config = None
args = [binary, "serve", "--port", str(port)] + extra
if mode in ("reload", "crash"):
    config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    config.write('workers = "processes"\nprocesses = 2\nkeep-alive-timeout = "60s"\n'); config.close()
    args += ["--config", config.name]
if mode == "crash":
    args += ["--enable-crash-route"]
log = tempfile.TemporaryFile()
server = subprocess.Popen(args, stderr=log, stdout=log)

def connect():
    return socket.create_connection(("127.0.0.1", port), timeout=20)

for _ in range(200):
    try: connect().close(); break
    except OSError: time.sleep(0.05)

def read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d: return None, buf
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length": length = int(value)
    while len(rest) < length:
        d = s.recv(65536)
        if not d: return None, buf
        rest += d
    return head, rest[length:]

lock = threading.Lock()
tally = {"sent": 0, "answered": 0, "unclean": 0, "refused": 0, "reconnects": 0}
stop = threading.Event()
def add(key, n=1):
    with lock: tally[key] += n

def client(reconnect):
    while not stop.is_set():
        try: s = connect()
        except OSError:
            add("refused")
            if not reconnect: return
            time.sleep(0.01); continue
        buf = b""
        while True:
            try: s.sendall(REQUEST)
            except OSError: add("unclean"); break
            add("sent")
            try: head, buf = read_response(s, buf)
            except OSError: head = None
            if head is None: add("unclean"); break
            add("answered")
            if b"connection: close" in head.lower():
                try: clean = s.recv(1) == b""
                except OSError: clean = False
                if not clean: add("unclean")
                break
            if stop.is_set(): break
        s.close()
        if not reconnect: return
        add("reconnects")

def wait_for(n):
    while tally["answered"] < n and server.poll() is None: time.sleep(0.002)

def metrics():
    s = connect(); s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d: break
        data += d
    return data.decode(errors="replace")

failures = []
if mode == "sigterm":
    threads = [threading.Thread(target=client, args=(False,)) for _ in range(32)]
    [t.start() for t in threads]
    wait_for(3000)
    server.send_signal(signal.SIGTERM)
    [t.join() for t in threads]
    code = server.wait(timeout=30)
    if code != 0: failures.append(f"exit status {code}")
elif mode == "sigterm-reconnect":
    threads = [threading.Thread(target=client, args=(True,)) for _ in range(32)]
    [t.start() for t in threads]
    wait_for(3000)
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=60)
    stop.set(); [t.join() for t in threads]
    if code != 0: failures.append(f"exit status {code}")
elif mode == "reload":
    threads = [threading.Thread(target=client, args=(True,)) for _ in range(32)]
    [t.start() for t in threads]
    wait_for(2000)
    with open(config.name, "a") as f: f.write('read-ahead-limit = 131072\n')
    server.send_signal(signal.SIGHUP)
    before = tally["answered"]
    deadline = time.time() + 30
    while "switchyard_supervisor_config_generation 2" not in metrics() and time.time() < deadline: time.sleep(0.05)
    wait_for(tally["answered"] + 2000)
    text = metrics()
    if "switchyard_supervisor_config_generation 2" not in text: failures.append("generation 2 not reached")
    stop.set(); [t.join() for t in threads]
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=30)
    if code != 0: failures.append(f"exit status {code}")
    if tally["refused"]: failures.append(f"{tally['refused']} connections refused")
elif mode == "crash":
    threads = [threading.Thread(target=client, args=(True,)) for _ in range(8)]
    [t.start() for t in threads]
    wait_for(500)
    s = connect(); s.sendall(b"GET /crash HTTP/1.1\r\nHost: t\r\n\r\n")
    try: crashed = s.recv(1) == b""
    except OSError: crashed = True
    at_crash = tally["answered"]
    wait_for(at_crash + 2000)  # served while the worker restarts
    deadline = time.time() + 30
    text = metrics()
    while "switchyard_supervisor_worker_restarts_total 1" not in text and time.time() < deadline:
        time.sleep(0.05); text = metrics()
    stop.set(); [t.join() for t in threads]
    if not crashed: failures.append("the /crash connection got an answer")
    if "switchyard_supervisor_worker_restarts_total 1" not in text: failures.append("no restart counted")
    if 'reason="killed by signal' not in text: failures.append("death not counted with its signal")
    if tally["answered"] < at_crash + 2000: failures.append("requests stopped being served after the crash")
    if tally["refused"]: failures.append(f"{tally['refused']} connections refused")
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=30)
    if code != 0: failures.append(f"exit status {code}")
    # Only connections of the crashed worker may break; they are not "lost" by the server's choice.
    tally["unclean"] = 0; tally["sent"] = tally["answered"]

lost = tally["sent"] - tally["answered"]
if lost: failures.append(f"{lost} requests sent and never answered")
if tally["unclean"]: failures.append(f"{tally['unclean']} connections ended without Connection: close")
print(f"{mode}: sent {tally['sent']} answered {tally['answered']} reconnects {tally['reconnects']} "
      f"refused {tally['refused']} unclean {tally['unclean']}" + ("" if not failures else " FAILED: " + "; ".join(failures)))
if failures:
    log.seek(0); sys.stdout.write(log.read().decode(errors="replace")[-3000:])
if config: os.unlink(config.name)
sys.exit(1 if failures else 0)
