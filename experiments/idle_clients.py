"""Opens N keep-alive connections, makes one request on each, and holds them idle.

Prints "ready" once every connection has its response, then holds them until
it is killed. Used by idle-memory.sh to measure server memory per idle connection.
Source addresses rotate over 127.0.0.1-127.0.0.8 so ephemeral ports never run short.
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
held = []
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((f"127.0.0.{1 + i % 8}", 0))
    s.connect(("127.0.0.1", port))
    s.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"Hello, World!"):
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(f"connection {i} closed by the server")
        data += chunk
    held.append(s)
print("ready", flush=True)
signal.pause()
