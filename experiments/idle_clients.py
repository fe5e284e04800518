"""Opens N keep-alive connections, makes one request on each, and holds them idle.

usage: idle_clients.py PORT N [PATH] [BURST]

With BURST (e.g. 500), clients connect in bursts of that many that each send
their request before any response is read, as a reconnect storm does; without
it, one at a time. Prints "ready" once every connection has its response, then
holds them until it is killed. Used by idle-memory.sh to measure server memory
per idle connection. Source addresses rotate over 127.0.0.1-127.0.0.8 so
ephemeral ports never run short.
"""
import resource
import signal
import socket
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
path = sys.argv[3] if len(sys.argv) > 3 else "/plaintext"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
burst = int(sys.argv[4]) if len(sys.argv) > 4 else 1
held = []

def read_response(s, i):
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"Hello, World!"):
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(f"connection {i} closed by the server")
        data += chunk

for first in range(0, count, burst):
    group = []
    for i in range(first, min(first + burst, count)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((f"127.0.0.{1 + i % 8}", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(request)
        group.append(s)
    for i, s in enumerate(group):
        read_response(s, first + i)
    held.extend(group)
print("ready", flush=True)
signal.pause()
