"""Processes under measurement: the embedded database, Granular, the bare baseline; CPU from /proc."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server.storage.embedded import EmbeddedDatabase, die_with_parent, free_port

TICKS = os.sysconf("SC_CLK_TCK")
ADMIN_KEY = "gr_bench_admin_key"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Process:
    """A uvicorn-served app on loopback, stopped when the bench ends."""

    def __init__(self, args: list[str], env: dict[str, str], health: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [*args, "--port", str(self.port)],
                env={**os.environ, **env},
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # a bench killed with -9 leaves no server behind
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + health, timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"{args[0]} did not start: {log.read_text(errors='replace')[-2000:]}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_database(root: Path) -> EmbeddedDatabase:
    database = EmbeddedDatabase(root / "data")
    database.start()
    return database


def start_granular(uri: str, database: str, data_dir: Path) -> Process:
    env = {
        "GRANULAR_MONGODB_URI": uri,
        "GRANULAR_DATABASE": database,
        "GRANULAR_DATA_DIR": str(data_dir),
        "GRANULAR_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "GRANULAR_RATE_LIMIT_PER_MINUTE": "100000000",  # measure the server, not the limiter
        # Only the work measured: no trigger evaluator or retention sweep in the same process.
        "GRANULAR_TRIGGER_INTERVAL_SECONDS": "0",
        "GRANULAR_RETENTION_SWEEP_SECONDS": "0",
        "GRANULAR_AUDIENCE_PASS_SECONDS": "0",
    }
    return Process([sys.executable, "-m", "server.cli", "serve"], env, "/readyz", data_dir / "granular.log")


def start_baseline(uri: str, database: str, data_dir: Path) -> Process:
    env = {"BENCH_MONGODB_URI": uri, "BENCH_DATABASE": database}
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.baseline:app",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--log-level",
        "warning",
        "--host",
        "127.0.0.1",
    ]
    return Process(args, env, "/profile/none", data_dir / "baseline.log")
