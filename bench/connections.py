"""`python -m bench.connections [--sockets N]`: what N idle and half-sent connections from one host
hold in `granular serve` (default settings) and in bare uvicorn (the same loop and parser, no guard):
the server's open file descriptors before, during and after the read timeout, and whether /healthz
answers meanwhile. Targets 127.0.0.1 only; stops everything it starts."""

import argparse
import os
import resource
import socket
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import Process, start_baseline, start_database, start_granular
from server.settings import Settings


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _healthz(process: Process, path: str) -> str:
    started = time.monotonic()
    try:
        status = httpx.get(process.url + path, timeout=5).status_code
    except httpx.TransportError as error:
        return type(error).__name__
    return f"{status} in {(time.monotonic() - started) * 1000:.0f} ms"


def _flood(process: Process, path: str, sockets: int, wait: float) -> tuple[str, ...]:
    before = _fds(process.pid)
    opened = []
    for n in range(sockets):
        try:
            sock = socket.create_connection(("127.0.0.1", process.port), timeout=5)
        except OSError:
            break
        if n % 2:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half-sent: no blank line, ever
        opened.append(sock)
    time.sleep(1)
    during, probe = _fds(process.pid), _healthz(process, path)
    time.sleep(wait)
    after, probe_after = _fds(process.pid), _healthz(process, path)
    for sock in opened:
        sock.close()
    return str(before), str(len(opened)), str(during), probe, str(after), probe_after


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.connections")
    parser.add_argument("--sockets", type=int, default=2000, help="connections to open (half half-sent)")
    args = parser.parse_args()
    wait = Settings().read_timeout_seconds + 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        database = start_database(root)
        servers = {
            "granular serve": (start_granular(database.uri, "bench", root), "/healthz"),
            "bare uvicorn": (start_baseline(database.uri, "bench", root), "/profile/none"),
        }
        # The servers keep the open-file limit they started with (run under `ulimit -n 2048` to see bare
        # uvicorn run out); this process needs room for every socket it opens.
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        try:
            print(
                f"| server | fds before | connections opened | fds after 1 s | health during "
                f"| fds after {wait + 1:.0f} s | health after |\n|---|---|---|---|---|---|---|"
            )
            for name, (process, path) in servers.items():
                print("| " + " | ".join((name, *_flood(process, path, args.sockets, wait))) + " |")
        finally:
            for process, _ in servers.values():
                process.stop()
            database.stop()


if __name__ == "__main__":
    main()
