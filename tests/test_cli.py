"""`granular serve` as an operator runs it: a real process, a real embedded database."""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from server import cli
from server.storage.embedded import free_port
from tests.factories import track
from tests.graphql.test_track_events import TRACK

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


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={k: v for k, v in os.environ.items() if k != "GRANULAR_MONGODB_URI"},
    )


@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo shop: 250 customers are the fewest for which the purchase model fits its first
    60 days at any time of day."""
    data_dir = tmp_path_factory.mktemp("demo")
    result = _cli("demo", "--customers", "250", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return data_dir


@pytest.mark.slow
def test_backtest_prints_predicted_and_actual_purchases_by_decile_and_in_total(demo_shop: Path) -> None:
    end = (datetime.now(UTC) - timedelta(days=29)).date()
    result = _cli(
        "backtest", "--calibration-end", end.isoformat(), "--holdout-weeks", "4", "--data-dir", str(demo_shop)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Calibration: purchases up to {end.isoformat()}, ")
    header = lines.index("| decile of prediction | customers | predicted purchases | actual purchases |")
    rows = [line.strip("|").split("|") for line in lines[header + 2 :]]
    assert [r[0].strip() for r in rows] == [*map(str, range(1, 11)), "all"]
    customers = [int(r[1].replace(",", "")) for r in rows]
    predicted = [float(r[2].replace(",", "")) for r in rows]
    assert sum(customers[:-1]) == customers[-1] > 0
    # Each printed decile is rounded to 0.1, so their sum may drift from the rounded total by 10 × 0.05.
    assert sum(predicted[:-1]) == pytest.approx(predicted[-1], abs=0.55)
    # Deciles are by prediction, highest first.
    assert predicted[:-1] == sorted(predicted[:-1], reverse=True)


def test_backtest_refuses_a_holdout_that_has_not_ended(tmp_path: Path) -> None:
    result = _cli(
        "backtest",
        "--calibration-end",
        datetime.now(UTC).date().isoformat(),
        "--holdout-weeks",
        "4",
        "--data-dir",
        str(tmp_path),
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "granular: The holdout must have ended: the calibration end plus the holdout weeks is in the future."
    )


@pytest.mark.slow
def test_verify_ledger_checks_every_chain_of_the_demo(demo_shop: Path) -> None:
    result = _cli("verify-ledger", "--data-dir", str(demo_shop))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("entries: every chain intact.")
    assert "chains" in result.stderr  # the progress line


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


def test_sigterm_ends_the_server_with_a_subscription_open_and_queries_running(served: Served) -> None:
    served.wait_ready()
    tracked = httpx.post(
        served.url + "/graphql",
        json={"query": TRACK, "variables": {"events": [track(user_id="u1", anonymous_id=None)]}},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert tracked.json()["data"]["trackEvents"]["accepted"] == 1
    profile_id = served.gql('{ profile(userId: "u1") { id } }').json()["data"]["profile"]["id"]
    with ws_connect(
        f"ws://127.0.0.1:{served.port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {KEY}"}}))
        assert json.loads(ws.recv(10))["type"] == "connection_ack"
        subscription = "subscription($id: ID!) { profileScores(profileId: $id) { phase } }"
        ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": subscription, "variables": {"id": profile_id}},
                }
            )
        )
        assert json.loads(ws.recv(10))["type"] == "next"
        stopped = threading.Event()

        def querying() -> int:
            """Queries back to back until the server is gone: some are running when the signal comes."""
            answered = 0
            while not stopped.is_set():
                try:
                    served.gql("{ profiles(first: 100) { edges { node { id ltv { revenue } } } } }")
                except httpx.TransportError:
                    break
                answered += 1
            return answered

        with ThreadPoolExecutor(8) as pool:
            running = [pool.submit(querying) for _ in range(8)]
            time.sleep(1)
            started = time.monotonic()
            served.process.send_signal(signal.SIGTERM)
            try:
                code = served.process.wait(10)
            finally:
                stopped.set()
            assert sum(future.result() for future in running) > 0
    print(f"stopped {time.monotonic() - started:.1f} s after SIGTERM")
    assert code == 0
    assert _wait_gone(served.data_dir) == []


def _commands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                yield from _commands(command)


def test_every_command_and_option_explains_itself() -> None:
    for command in _commands(cli.parser()):
        groups = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        listed = [choice for group in groups for choice in group._choices_actions]
        options = [a for a in command._actions if a not in groups]
        unexplained = [a.dest for a in (*listed, *options) if not a.help]
        assert unexplained == [], command.prog


def test_the_help_speaks_to_users_not_to_the_project() -> None:
    texts = " ".join(command.format_help() for command in _commands(cli.parser())).lower()
    assert not any(word in texts for word in ("issue", "later", "todo"))
