"""`python -m bench [--smoke] [--events N]`: every figure as a ratio against a baseline measured in
the same run on the same database. Targets 127.0.0.1 only; stops everything it starts."""

import argparse
import asyncio
import platform
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from pymongo import MongoClient

from bench import attribution, audiences, ceiling, history, ingest, ltv, page, profile_read
from bench.harness import Process, start_baseline, start_database, start_granular

RESULTS = Path(__file__).parent / "results"


def _times(value: float, baseline: float) -> str:
    """value ÷ baseline; a dash when the baseline measured nothing (a 2 s smoke run on a busy machine
    can complete no request)."""
    return f"{value / baseline:.2f}×" if baseline else "—"


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


PROFILE_POOL = 2_000
CLIENTS = (1, 4, 16)


async def _ingest_runs(granular: Process, n: int) -> list[ingest.Run]:
    """Each route with 1, 4 and 16 concurrent clients whose batches share one pool of customers."""
    runs = []
    for seed, (label, path) in enumerate(
        (("POST /v1/batch", "/v1/batch"), ("GraphQL trackEvents", "/graphql"))
    ):
        for clients in CLIENTS:
            events = ingest.messages(n, PROFILE_POOL, seed=100 * (seed + 1) + clients)
            runs.append(await ingest.through_http(label, granular, path, events, clients))
    return runs


def _stored(uri: str) -> int:
    with MongoClient(uri) as client:
        return int(client["bench"]["events"].count_documents({"workspace_id": "default"}))


async def _ingest_section(uri: str, granular: Process, baseline: Process, n: int) -> str:
    ceiling_events = ingest.messages(n, PROFILE_POOL, seed=2)
    seconds = await ceiling.same_writes(uri, "bench_ceiling", ingest.batches(ceiling_events))
    top = ingest.Run("ceiling: the same writes, raw driver", n, seconds, None)
    bare = await ingest.through_http(
        "bare Starlette insert_many", baseline, "/ingest", ingest.messages(n, PROFILE_POOL, seed=3), 4
    )
    before = _stored(uri)
    runs = await _ingest_runs(granular, n)
    stored = _stored(uri) - before
    imported = await history.lines_per_second(uri, "bench_import", ingest.messages(n, PROFILE_POOL, seed=7))
    one_client = next(run for run in runs if run.label.startswith("POST") and run.clients == 1)
    sent = sum(run.events for run in runs)
    assert bare.cpu_us_per_event is not None

    def per_batch(run: ingest.Run, name: str) -> str:
        value = run.per_batch(name)
        return "—" if value is None else f"{value:.2f}"

    rows = [(top.label, "1", f"{top.events:,}", f"{top.rate:,.0f}", "1.00×", "—", "—", "—", "—", "—")]
    rows.append(
        (
            bare.label,
            "4",
            f"{bare.events:,}",
            f"{bare.rate:,.0f}",
            f"{bare.rate / top.rate:.2f}×",
            f"{bare.cpu_us_per_event:.0f}",
            "1.00×",
            "1.00",
            "—",
            str(bare.server_errors),
        )
    )
    for run in runs:
        assert run.cpu_us_per_event is not None
        assert run.counters is not None
        units = run.counters.get("granular_ingest_units_total") or 1.0
        attempts = run.counters.get("granular_ingest_unit_attempts_total", 0.0) / units
        rows.append(
            (
                run.label,
                str(run.clients),
                f"{run.events:,}",
                f"{run.rate:,.0f}",
                f"{run.rate / top.rate:.2f}×",
                f"{run.cpu_us_per_event:.0f}",
                f"{run.cpu_us_per_event / bare.cpu_us_per_event:.2f}×",
                per_batch(run, "granular_db_commands_total"),
                f"{attempts:.2f}",
                str(run.server_errors),
            )
        )
    header = (
        "ingest (batches of 500, 2,000 shared customers)",
        "clients",
        "events",
        "events/s",
        "÷ ceiling",
        "server CPU µs/event",
        "CPU ÷ bare",
        "DB commands/batch",
        "txn attempts/unit",
        "5xx",
    )
    estimates = ", ".join(
        f"{run.label} with {run.clients}: {1e6 / run.cpu_us_per_event:,.0f}"
        for run in runs
        if run.clients == 4 and run.cpu_us_per_event
    )
    return (
        "### Ingest (goals: ≥ 0.8× the ceiling at 1 and 4 clients; 4 and 16 clients ≥ 1 client; "
        "0 5xx, 0 lost or doubled; CPU ≤ 5× bare)\n\n"
        + _table(rows, header)
        + f"\n\nStored {stored:,} events for {sent:,} sent: {sent - stored:,} lost, 0 doubled "
        "(a unique index on (workspace, messageId) makes doubling impossible)."
        + f"\n\n`granular import` of an NDJSON file of {n:,} such messages: {imported:,.0f} lines/s, "
        f"{imported / one_client.rate:.2f}× `POST /v1/batch` with one client."
        + f"\n\nEstimate, not a measurement — events/s one API core could ingest on a production "
        f"MongoDB (1e6 ÷ server CPU µs/event): {estimates}."
    )


def _profile_section(uri: str, granular: Process, baseline: Process, seconds: int, smoke: bool) -> str:
    if not profile_read.available():
        return "### Profile read\n\nskipped: `wrk` is not installed (`apt-get install wrk`)."
    page.ensure_shop(uri, "bench", granular, 20 if smoke else page.PAGE)
    with MongoClient(uri) as client:
        doc = client["bench"]["profiles"].find_one({"scores.engagement.total": {"$gt": 0}})
    assert doc is not None, "ingest created no scored profile"
    rows = []
    for clients in (32, 1):
        bare = profile_read.bare(baseline.url, doc["_id"], seconds, clients)
        graph = profile_read.graphql(granular.url, doc["_id"], seconds, clients)
        rows += [
            (
                load.label,
                f"{load.requests_per_second:,.0f}",
                _times(load.requests_per_second, bare.requests_per_second),
                f"{load.p50_ms:.2f} ({_times(load.p50_ms, bare.p50_ms)})",
                f"{load.p99_ms:.2f} ({_times(load.p99_ms, bare.p99_ms)})",
            )
            for load in (bare, graph)
        ]
    header = ("wrk", "req/s", "÷ bare", "p50 ms (÷ bare)", "p99 ms (÷ bare)")
    goals = "goal ≥ 0.6× req/s at 32 clients; one connection p50 ≤ 1.5×, p99 ≤ 2.5×"
    return f"### Profile read ({goals})\n\n" + _table(rows, header)


def _page_section(uri: str, granular: Process, repeats: int, size: int) -> str:
    model_error = page.ensure_shop(uri, "bench", granular, size)
    id_only = page.seconds_per_page(granular, page.ID_ONLY, repeats, size)
    every = page.seconds_per_page(granular, page.EVERY_FIELD, repeats, size)
    rows = [
        (f"profiles(first: {size}) {{ id }}", f"{id_only * 1000:.0f}", "1.00×"),
        (
            f"profiles(first: {size}) every per-profile field",
            f"{every * 1000:.0f}",
            f"{every / id_only:.2f}×",
        ),
    ]
    note = f"\n\nThe conversion model could not be fitted: {model_error}" if model_error else ""
    header = ("one request at a time, median", "ms", "÷ id only")
    return "### A page with every per-profile field (goal ≤ 2×)\n\n" + _table(rows, header) + note


def _attribution_section(uri: str, granular: Process, sizes: list[int]) -> str:
    import math

    rows = []
    previous: tuple[int, float] | None = None
    loaded = 0
    for size in sizes:
        # Each size adds events to the same workspace, so the n-th run sees the cumulative total.
        loaded += attribution.load(uri, "bench", "default", size - loaded, seed=size)
        seconds = attribution.run(granular)
        exponent = (
            "—"
            if previous is None
            else f"{math.log(seconds / previous[1]) / math.log(loaded / previous[0]):.2f}"
        )
        rows.append(
            (
                f"{loaded:,}",
                f"{seconds:.2f}",
                f"{seconds / 7:.2f}",
                f"{attribution.server_peak_mb(granular):.0f}",
                exponent,
            )
        )
        previous = (loaded, seconds)
    header = (
        "events (bulk-loaded, stored shape)",
        "all 7 models, s",
        "per model, s",
        "server peak RSS MB",
        "growth exponent",
    )
    return "### Attribution (one aggregation, seven models)\n\n" + _table(rows, header)


def _ltv_section(uri: str, tmp: Path, sizes: list[int]) -> str:
    rows = []
    for size in sizes:
        # A fresh database per size: the fit sees exactly `size` customers.
        database = f"bench_ltv_{size}"
        (tmp / database).mkdir(exist_ok=True)
        server = start_granular(uri, database, tmp / database)  # first, so its indexes exist as data arrives
        try:
            purchases = ltv.load(uri, database, size, seed=size)
            seconds, report = ltv.fit(server)
            rows.append(
                (
                    f"{size:,}",
                    f"{purchases:,}",
                    f"{seconds:.2f}",
                    f"{report['durationMs'] / 1000:.2f}",
                    f"{ltv.peak_mb(server):.0f}",
                    report["bgnbdError"] or report["gammaGammaError"] or "fitted",
                )
            )
        finally:
            server.stop()
    header = (
        "customers",
        "purchases (bulk-loaded)",
        "fitModels request, s",
        "of which LTV fit, s",
        "server peak RSS MB",
        "outcome",
    )
    return "### LTV fit (BG/NBD + Gamma-Gamma, plus the conversion model)\n\n" + _table(rows, header)


def _audiences_section(uri: str, root: Path, n: int, members: int) -> str:
    without, with_twenty, restricted = asyncio.run(
        audiences.ingest_with_and_without(uri, root, n, PROFILE_POOL)
    )
    rows = [
        (
            "ingest, POST /v1/batch, 4 clients: 20 audiences ÷ none",
            f"{with_twenty.rate:,.0f} ÷ {without.rate:,.0f} events/s",
            f"{with_twenty.rate / without.rate:.2f}×",
        ),
        (
            f"attributionComparison restricted to {restricted.members:,} current members ÷ unrestricted",
            f"{restricted.current:.2f} ÷ {restricted.everyone:.2f} s",
            f"{restricted.current / restricted.everyone:.2f}×",
        ),
        (
            "the same with a past `to` (members as of `to`, from the history) ÷ unrestricted",
            f"{restricted.as_of:.2f} ÷ {restricted.everyone_to:.2f} s",
            f"{restricted.as_of / restricted.everyone_to:.2f}×",
        ),
    ]
    listed = f"listing a {members:,}-member audience (pages of 500) ÷ raw scan of the same `_id` range"
    try:
        api, raw = audiences.listing(uri, root, members)
        rows.append((listed, f"{api:,.0f} ÷ {raw:,.0f} profiles/s", f"{api / raw:.2f}×"))
    except Exception as error:  # the ingest figures stand on their own
        rows.append((listed, f"failed: {type(error).__name__}", "—"))
    header = ("audiences (same run, same database server)", "measured", "ratio")
    return "### Audiences (goal: ingest with 20 audiences ≥ 0.85× without)\n\n" + _table(rows, header)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the harness still works")
    parser.add_argument("--events", type=int, default=20_000, help="events per ingest run")
    parser.add_argument("--seconds", type=int, default=15, help="duration of each wrk run")
    parser.add_argument("--attribution", default="10000,100000", help="event counts for the attribution runs")
    parser.add_argument("--ltv", default="10000,100000", help="customer counts for the LTV fit runs")
    parser.add_argument(
        "--audience-members", type=int, default=100_000, help="members of the audience listed"
    )
    parser.add_argument(
        "--only",
        nargs="*",
        choices=["ingest", "profile", "page", "attribution", "ltv", "audiences"],
        help="run only these sections",
    )
    args = parser.parse_args()
    n, seconds = (2_000, 2) if args.smoke else (args.events, args.seconds)
    sizes = [2_000, 4_000] if args.smoke else [int(x) for x in args.attribution.split(",")]
    ltv_sizes = [300] if args.smoke else [int(x) for x in args.ltv.split(",")]
    with tempfile.TemporaryDirectory(prefix="granular-bench-") as tmp:
        database = start_database(Path(tmp))
        granular = start_granular(database.uri, "bench", Path(tmp))
        baseline = start_baseline(database.uri, "bench", Path(tmp))
        every: list[tuple[str, str, Callable[[], str]]] = [
            (
                "ingest",
                "Ingest",
                lambda: asyncio.run(_ingest_section(database.uri, granular, baseline, n)),
            ),
            (
                "profile",
                "Profile read",
                lambda: _profile_section(database.uri, granular, baseline, seconds, args.smoke),
            ),
            (
                "page",
                "Page of profiles",
                lambda: _page_section(database.uri, granular, *((3, 20) if args.smoke else (9, page.PAGE))),
            ),
            # Attribution runs after ingest, on top of its data.
            ("attribution", "Attribution", lambda: _attribution_section(database.uri, granular, sizes)),
            ("ltv", "LTV fit", lambda: _ltv_section(database.uri, Path(tmp), ltv_sizes)),
            (
                "audiences",
                "Audiences",
                lambda: _audiences_section(
                    database.uri, Path(tmp), n, 500 if args.smoke else args.audience_members
                ),
            ),
        ]
        runs = [(title, run) for key, title, run in every if not args.only or key in args.only]
        sections = []
        failed = False
        try:
            for name, run in runs:
                try:
                    sections.append(run())
                except Exception as error:
                    failed = True
                    sections.append(f"### {name}\n\nfailed: {type(error).__name__}: {error}")
            if failed:
                print(granular.log.read_text()[-3000:], file=sys.stderr)
        finally:
            granular.stop()
            baseline.stop()
            database.stop()
    report = "\n\n".join(
        [
            f"## Granular benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
            f"strawberry {version('strawberry-graphql')}, pymongo {version('pymongo')}, "
            f"SecantusDB {version('secantusdb')} (embedded, --sync-on-commit)"
            + (" — SMOKE sizes" if args.smoke else ""),
            *sections,
        ]
    )
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report + "\n")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
