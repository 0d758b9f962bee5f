"""The embedded SecantusDB child process: started on a free loopback port, never imported.

SecantusDB is GPL-2.0 and runs only as a separate process (`secantusd-py`), so Granular talks to it
over the wire protocol exactly as it would to mongod.
"""

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

_PR_SET_PDEATHSIG = 1


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database could not be started; the message is one line for the operator."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """Run in a child before exec: the kernel kills the child when its parent dies, however it dies."""
    # Linux only: the child is killed when the server dies, even by SIGKILL, so no orphan database
    # keeps the data dir locked. SIGKILL, not SIGTERM: a graceful shutdown with clients still
    # connected was seen to hang; with --sync-on-commit every acknowledged write is already on disk.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _executable() -> list[str]:
    beside_python = Path(sys.executable).parent / "secantusd-py"
    found = beside_python if beside_python.exists() else shutil.which("secantusd-py")
    if found is None:
        raise EmbeddedDatabaseError(
            "the embedded database is not installed: pip install 'granular[embedded]' "
            "or set GRANULAR_MONGODB_URI"
        )
    return [str(found)]


class EmbeddedDatabase:
    """A SecantusDB child with data under `storage_path`; `uri` is valid between start and stop."""

    def __init__(
        self, storage_path: Path, *, test_commands: bool = False, config: Path | None = None
    ) -> None:
        self.storage_path = storage_path
        self.test_commands = test_commands
        self.config = config  # a secantusd.toml (tests shorten the TTL monitor's interval with one)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path = storage_path.parent / "secantusd.log"

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 30.0) -> str:
        self.storage_path.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        args = [
            *_executable(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.storage_path),
            "--sync-on-commit",  # w=majority alone is not journaled there (DESIGN §2)
            "--log-level",
            "WARNING",
        ]
        if self.test_commands:
            args.append("--enable-test-commands")
        if self.config is not None:
            args.extend(["--config", str(self.config)])
        with self._log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed executable, no shell
                args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
            )
        self._wait_for_ping(timeout)
        return self.uri

    def _wait_for_ping(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedDatabaseError(self._failure_reason())
            try:
                with MongoClient[dict[str, Any]](self.uri, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("ping")
                return
            except PyMongoError:
                time.sleep(0.1)
        self.stop()
        raise EmbeddedDatabaseError(f"the embedded database did not answer within {timeout:.0f} s")

    def _failure_reason(self) -> str:
        log = self._log_path.read_text(errors="replace") if self._log_path.exists() else ""
        if "resource busy" in log or "Resource temporarily unavailable" in log:
            return (
                f"the data dir {self.storage_path.parent} is in use by another running Granular; "
                "stop it or choose another --data-dir"
            )
        last = log.strip().splitlines()[-1:] or ["no output"]
        return f"the embedded database exited at start-up: {last[0]}"

    def stop(self, timeout: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def database_uri(configured: str | None, data_dir: Path, *, test_commands: bool = False) -> Iterator[str]:
    """The configured MongoDB URI, or an embedded database's for the lifetime of the block."""
    if configured is not None:
        yield configured
        return
    embedded = EmbeddedDatabase(data_dir / "data", test_commands=test_commands)
    embedded.start()
    try:
        yield embedded.uri
    finally:
        embedded.stop()
