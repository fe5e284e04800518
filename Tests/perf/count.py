"""User-space instructions per request of a server, counted by callgrind.

usage: count.py SERVER_BINARY [serve flags...]

Starts `SERVER_BINARY serve --port P FLAGS` under callgrind, warms it up,
then measures two phases over one connection each: 5,000 sequential
keep-alive requests, and 1,000 batches of 16 pipelined ones. Prints one line,
`keepalive=N pipelined=N` (instructions per request, every thread of the
server summed). Instruction counts do not depend on timing, so the same
build gives the same figures run after run (a work-stealing engine's
parking and waking varies them by about 1%).

Each phase is bracketed by `callgrind_control -z` and `-d`. Valgrind runs
one thread at a time and counts io_uring_enter as a call that does not
block, so a loop waiting in it holds every other thread, the debugger
server that answers callgrind_control included, until a completion wakes
it. The control requests are therefore started first and the server woken
after them: the zero by the phase's first request, the dump by the close
of the phase's connection. Their effect lands at the wake-up, a few hundred
instructions from the phase's edge out of millions.
"""
import glob, os, signal, socket, subprocess, sys, tempfile, time

binary, flags = sys.argv[1], sys.argv[2:]
probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]; probe.close()
work = tempfile.mkdtemp(prefix="switchyard-perf-")
server = subprocess.Popen(
    ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/cg.%p", binary, "serve", "--port", str(port)] + flags,
    stdout=subprocess.DEVNULL, stderr=open(f"{work}/valgrind.log", "w"))

def fail(message):
    server.kill()
    sys.stderr.write(f"count: {message}\n" + open(f"{work}/valgrind.log").read()[-2000:])
    sys.exit(1)

deadline = time.time() + 120
while True:
    try: socket.create_connection(("127.0.0.1", port), timeout=1).close(); break
    except OSError:
        if time.time() > deadline or server.poll() is not None: fail("the server did not start listening")
        time.sleep(0.2)

# The request of ../shared/bench/fixed_client.py, so the figures compare with the README's.
REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n"

def exchange(connection, batch):
    """Sends `batch` requests at once and reads their `batch` responses."""
    connection.sendall(REQUEST * batch)
    seen, data = 0, b""
    while seen < batch:
        chunk = connection.recv(65536)
        if not chunk: fail("the server closed the connection")
        data += chunk
        seen = data.count(b"Hello, World!")
    if seen != batch: fail(f"{seen} responses for {batch} requests")

def control(*arguments):
    return subprocess.Popen(["callgrind_control", *arguments, str(server.pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def phase(name, rounds, batch):
    connection = socket.create_connection(("127.0.0.1", port), timeout=60)
    zero = control("-z")
    time.sleep(0.5)  # an epoll loop answers at once; an io_uring one at the first request
    exchange(connection, batch)
    zero.wait(timeout=60)
    for _ in range(rounds - 1): exchange(connection, batch)
    dump = control("-d", name)
    time.sleep(0.5)
    connection.close()  # wakes a loop waiting in io_uring_enter
    dump.wait(timeout=60)

def total(name):
    """Instructions in the dump named `name` (all threads are in one file)."""
    count = 0
    for path in glob.glob(f"{work}/cg.*"):
        lines = open(path, errors="replace").read().splitlines()
        if not any(line.startswith("desc: Trigger:") and name in line for line in lines): continue
        for line in lines:
            if line.startswith(("summary:", "totals:")):
                count += int(line.split()[1]); break
    return count

try:
    warm = socket.create_connection(("127.0.0.1", port), timeout=60)
    for _ in range(200): exchange(warm, 1)
    for _ in range(50): exchange(warm, 16)
    warm.close()
    phase("keepalive", 5000, 1)
    phase("pipelined", 1000, 16)
    keepalive, pipelined = total("keepalive"), total("pipelined")
    if keepalive == 0 or pipelined == 0: fail("callgrind wrote no dump for a phase")
    print(f"keepalive={keepalive // 5000} pipelined={pipelined // 16000}")
finally:
    server.send_signal(signal.SIGKILL)  # the dumps are written; an io_uring loop may not see SIGTERM
    server.wait()
    for path in glob.glob(f"{work}/*"): os.unlink(path)
    os.rmdir(work)
