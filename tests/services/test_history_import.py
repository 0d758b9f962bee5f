"""Importing history from files: NDJSON and CSV (gzip too), every valid line stored exactly once even
when a first run was interrupted, and a report of the lines that were not."""

import csv
import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest

from server.services.history_import import HistoryImport, read_lines
from tests.factories import ALL_GRANTED, ago, iso
from tests.services.conftest import Stack

CONSENT = json.dumps({"categoryPreferences": ALL_GRANTED})


def _message(n: int, rng: random.Random) -> dict[str, Any]:
    return {
        "type": "track",
        "event": rng.choice(["product_viewed", "product_added", "order_completed"]),
        "anonymousId": f"customer-{rng.randrange(200)}",
        "timestamp": iso(ago(days=rng.uniform(1, 300))),
        "messageId": f"m-{n}",
        "properties": {"revenue": rng.randrange(10, 90)},
        "context": {"consent": {"categoryPreferences": ALL_GRANTED}},
    }


def _ndjson(path: Path, count: int, start: int) -> int:
    """`count` lines, one malformed in every thousand; the number of valid ones."""
    rng, valid = random.Random(start), 0
    with gzip.open(path, "wt") as out:
        for n in range(start, start + count):
            if n % 1000 == 999:
                out.write('{"type": "track", "event": \n')
            else:
                out.write(json.dumps(_message(n, rng)) + "\n")
                valid += 1
    return valid


def _csv(path: Path, count: int, start: int) -> int:
    rng, valid = random.Random(start), 0
    with path.open("w", newline="") as out:
        columns = [
            "type",
            "event",
            "anonymousId",
            "timestamp",
            "messageId",
            "properties.revenue",
            "context.consent",
        ]
        writer = csv.writer(out)
        writer.writerow(columns)
        for n in range(start, start + count):
            m = _message(n, rng)
            bad = n % 1000 == 999
            timestamp = "not a time" if bad else m["timestamp"]
            writer.writerow(
                [
                    m["type"],
                    m["event"],
                    m["anonymousId"],
                    timestamp,
                    m["messageId"],
                    m["properties"]["revenue"],
                    CONSENT,
                ]
            )
            valid += not bad
    return valid


def test_a_csv_row_becomes_a_nested_message_with_json_values(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        'type,event,anonymousId,properties.revenue,properties.sku\ntrack,order_completed,a,42,"SKU-1"\n'
    )
    (line,) = list(read_lines(path))
    assert line.message == {
        "type": "track",
        "event": "order_completed",
        "anonymousId": "a",
        "properties": {"revenue": 42, "sku": "SKU-1"},
    }
    assert line.number == 2


def test_a_line_that_is_not_json_is_reported_by_its_number(tmp_path: Path) -> None:
    path = tmp_path / "h.ndjson"
    path.write_text('{"type": "track"}\n{oops\n')
    assert [(line.number, line.code) for line in read_lines(path)] == [(1, None), (2, "INVALID_JSON")]


async def test_an_untimed_line_without_a_message_id_is_found_again_on_a_second_run(
    stack: Stack, tmp_path: Path
) -> None:
    path = tmp_path / "h.ndjson"
    path.write_text(json.dumps({"type": "identify", "userId": "u1", "traits": {"plan": "gold"}}) + "\n")
    importer = HistoryImport(stack.services.ingest)
    first = await importer.run(stack.admin, [path])
    again = await importer.run(stack.admin, [path])
    assert (first.accepted, again.duplicates) == (1, 1)


@pytest.mark.slow
async def test_fifty_thousand_lines_are_stored_exactly_once_after_an_interrupted_run(
    large_stack: Stack, tmp_path: Path
) -> None:
    stack = large_stack
    files = [tmp_path / "events.ndjson.gz", tmp_path / "orders.csv"]
    valid = _ndjson(files[0], 25_000, 0) + _csv(files[1], 25_000, 25_000)
    importer = HistoryImport(stack.services.ingest)

    class Interrupted(Exception):
        pass

    calls = 0

    def stop_after_twenty_batches(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 20:
            raise Interrupted

    with pytest.raises(Interrupted):
        await importer.run(stack.admin, files, progress=stop_after_twenty_batches)
    report = await importer.run(stack.admin, files)
    assert report.lines == 50_000
    assert report.accepted + report.duplicates == valid
    assert report.duplicates >= 20 * 500 - 20
    assert await stack.db["events"].count_documents({}) == valid
    assert sorted(p["line"] for p in report.problems if p["file"] == "events.ndjson.gz") == list(
        range(1000, 25_001, 1000)
    )
    assert {p["code"] for p in report.problems} == {"INVALID_JSON", "INVALID_TIMESTAMP"}
    assert len(report.problems) == 50
