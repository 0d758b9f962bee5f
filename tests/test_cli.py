"""`granular serve` as an operator runs it: a real process, a real embedded database."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.storage.embedded import free_port

KEY = "gr_cli_test_admin_key"


def _database_pids(data_dir: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "secantusd" in cmdline and str(data_dir) in cmdline:
                pids.append(int(entry.name))
    return pids


def _wait_gone(data_dir: Path, seconds: float = 20) -> list[int]:
    deadline = time.monotonic() + seconds
    while (pids := _database_pids(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return pids


class Served:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        env = {**os.environ, "GRANULAR_BOOTSTRAP_ADMIN_KEY": KEY}
        env.pop("GRANULAR_MONGODB_URI", None)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / f"serve-{port}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "server.cli",
                    "serve",
                    "--port",
                    str(port),
                    "--data-dir",
                    str(data_dir),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not become ready")

    def gql(self, query: str, key: str = KEY) -> httpx.Response:
        return httpx.post(
            self.url + "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path / "granular", free_port())
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_serve_answers_with_the_bootstrap_key_and_keeps_keys_across_restarts(
    served: Served,
) -> None:
    served.wait_ready()
    assert served.gql("{ taxonomy { name } }").json()["data"]["taxonomy"]
    created = served.gql('mutation { createApiKey(role: ANALYST, name: "kept") { secret } }')
    secret = created.json()["data"]["createApiKey"]["secret"]
    assert served.stop() == 0
    assert _wait_gone(served.data_dir) == []
    again = Served(served.data_dir, free_port())
    try:
        again.wait_ready()
        assert again.gql("{ taxonomy { name } }", key=secret).status_code == 200
    finally:
        again.stop()


def test_killing_the_server_leaves_no_database_process_behind(served: Served) -> None:
    served.wait_ready()
    assert _database_pids(served.data_dir)
    served.stop(signal.SIGKILL)
    assert _wait_gone(served.data_dir) == []


def test_a_second_server_on_a_locked_data_dir_says_so_in_one_line(served: Served) -> None:
    served.wait_ready()
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--port",
            str(free_port()),
            "--data-dir",
            str(served.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "GRANULAR_MONGODB_URI"},
    )
    assert second.returncode == 1
    assert second.stderr.strip().count("\n") == 0
    assert "in use by another running Granular" in second.stderr


def test_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == f"granular: port {port} on 127.0.0.1 is already in use"


def test_export_schema_prints_the_committed_sdl() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "export-schema"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    committed = (Path(__file__).resolve().parents[1] / "schema.graphql").read_text()
    assert result.stdout == committed


def test_key_rotation_rewraps_data_keys_and_personal_data_still_decrypts(tmp_path: Path) -> None:
    served = Served(tmp_path / "granular", free_port())
    try:
        served.wait_ready()
        served.gql('mutation { identify(input: {userId: "u1", traits: {email: "ana@example.com"}}) { id } }')
        assert served.stop() == 0
        assert _wait_gone(served.data_dir) == []
        rotated = subprocess.run(
            [sys.executable, "-m", "server.cli", "keys", "rotate", "--data-dir", str(served.data_dir)],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k != "GRANULAR_MONGODB_URI"},
        )
        assert rotated.stdout.strip() == "re-wrapped 1 data keys under the new key-encryption key"
        again = Served(served.data_dir, free_port())
        try:
            again.wait_ready()
            body = again.gql('{ profile(userId: "u1") { traits } }').json()
            assert body["data"]["profile"]["traits"] == {"email": "ana@example.com"}
        finally:
            again.stop()
    finally:
        if served.process.poll() is None:
            served.process.kill()


def test_demo_fills_a_workspace_through_ingest_and_prints_a_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "demo", "--customers", "30", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "GRANULAR_MONGODB_URI"},
    )
    assert result.returncode == 0, result.stderr
    assert "Demo shop: 30 customers over 90 days (seed 7)." in result.stdout
    assert "rejected 0" in result.stdout
    assert "ADMIN key to look at it with (shown once): gr_" in result.stdout


def test_sigterm_ends_the_server_with_requests_in_flight(served: Served) -> None:
    served.wait_ready()
    held = []
    for _ in range(3):  # admitted requests still sending their bodies: they would wait forever
        sock = socket.create_connection(("127.0.0.1", served.port))
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + KEY.encode() + b'\r\nContent-Length: 100\r\n\r\n{"query":'
        )
        held.append(sock)
    time.sleep(0.5)
    started = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    try:
        code = served.process.wait(10)
    finally:
        for sock in held:
            sock.close()
    print(f"stopped {time.monotonic() - started:.1f} s after SIGTERM")
    assert code == 0
    assert _wait_gone(served.data_dir) == []
