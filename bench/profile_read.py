"""The personalization hot path with wrk: GraphQL profile read vs a bare Starlette read of the same doc."""

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.harness import ADMIN_KEY

QUERY = "query($id: ID) { profile(id: $id) { phase intentScore engagementScore affinities { key weight } } }"


@dataclass(frozen=True)
class Load:
    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float


def available() -> bool:
    return shutil.which("wrk") is not None


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(label: str, url: str, seconds: int, script: str | None, clients: int) -> Load:
    args = ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{seconds}s", "--latency"]
    with tempfile.TemporaryDirectory() as tmp:
        if script:
            path = Path(tmp) / "post.lua"
            path.write_text(script)
            args += ["-s", str(path)]
        out = subprocess.run(
            [*args, url], capture_output=True, text=True, timeout=seconds + 60, check=True
        ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{label}: {errors.group(1)} failed requests")
    return Load(label, rate, p50, p99)


def graphql(url: str, profile_id: str, seconds: int, clients: int) -> Load:
    body = json.dumps({"query": QUERY, "variables": {"id": profile_id}})
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {ADMIN_KEY}"\n'
    )
    return _wrk(f"GraphQL profile(id), {clients} clients", url + "/graphql", seconds, script, clients)


def bare(url: str, profile_id: str, seconds: int, clients: int) -> Load:
    return _wrk(
        f"bare Starlette read, {clients} clients", f"{url}/profile/{profile_id}", seconds, None, clients
    )
