"""Bulk import of history: files of Segment-shaped messages (newline-delimited JSON, or CSV whose
header names Segment fields, `properties.revenue` style for nested ones; gzip either way) streamed
through the same ingest path as live traffic (consent, minimization, idempotency) in batches.

Memory stays constant: one batch at a time. A line without `messageId` gets one derived from its
content (when timed) or from its file name and line number, so running the same import again skips
what is stored. Lines that cannot be read, and messages ingest refuses, go to a report with their
line number and code.
"""

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from server.domain.access import Principal
from server.services.event_payload import MAX_BATCH_EVENTS
from server.services.ingest import IngestService

Progress = Callable[[int, int], None]  # (bytes read, bytes in all files)


@dataclass(frozen=True)
class Line:
    """One line of an import file: the message it holds, or why it holds none."""

    file: str
    number: int
    message: dict[str, Any] | None
    code: str | None = None
    offset: int = 0  # bytes of the file (as stored, compressed or not) read by then


@dataclass
class ImportReport:
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    suppressed: int = 0
    dropped_no_consent: int = 0
    expired: int = 0
    rejected: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)  # written to the report file


def _decompressed(raw: IO[bytes]) -> IO[bytes]:
    gzipped = raw.read(2) == b"\x1f\x8b"
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[return-value]


def _nested(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as a message: `properties.revenue` → {"properties": {"revenue": ...}}; a value that
    is JSON (a number, true, an object) is read as JSON, anything else kept as text; empty cells left out."""
    message: dict[str, Any] = {}
    for column, cell in row.items():
        if not column or cell is None or cell == "":
            continue
        try:
            value: Any = json.loads(cell)
        except ValueError:
            value = cell
        target = message
        *parents, name = column.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[name] = value
    return message


def read_lines(path: Path) -> Iterator[Line]:
    """Every line of one import file (NDJSON, or CSV when the name says .csv or .csv.gz)."""
    name = path.name
    with (
        path.open("rb") as raw,
        io.TextIOWrapper(_decompressed(raw), encoding="utf-8", errors="replace") as text,
    ):
        if ".csv" in name:
            for number, row in enumerate(csv.DictReader(text), start=2):
                yield Line(name, number, _nested(row), offset=raw.tell())
            return
        for number, content in enumerate(text, start=1):
            if not content.strip():
                continue
            try:
                message = json.loads(content)
            except (ValueError, RecursionError):
                yield Line(name, number, None, "INVALID_JSON", raw.tell())
                continue
            if not isinstance(message, dict):
                yield Line(name, number, None, "INVALID_EVENT", raw.tell())
                continue
            yield Line(name, number, message, offset=raw.tell())


def _with_id(line: Line) -> dict[str, Any]:
    message = dict(line.message or {})
    if "messageId" not in message and not any(k in message for k in ("timestamp", "originalTimestamp")):
        # Untimed and unnamed: its place in its file names it, so a re-run finds it again.
        place = hashlib.sha256(f"{line.file}:{line.number}".encode()).hexdigest()[:32]
        message["messageId"] = "import-" + place
    return message


class HistoryImport:
    def __init__(self, ingest: IngestService) -> None:
        self._ingest = ingest

    async def run(
        self,
        principal: Principal,
        paths: list[Path],
        *,
        total_bytes: int = 0,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Every file's messages through ingest, in order; what happened to them. `progress` hears
        (bytes read, `total_bytes`) after each batch."""
        report = ImportReport()
        done_bytes = 0
        batch: list[Line] = []
        for path in paths:
            read = 0
            for line in read_lines(path):
                report.lines += 1
                read = line.offset
                if line.message is None:
                    report.rejected += 1
                    report.problems.append({"file": line.file, "line": line.number, "code": line.code})
                    continue
                batch.append(line)
                if len(batch) == MAX_BATCH_EVENTS:
                    await self._send(principal, batch, report)
                    batch = []
                    if progress is not None:
                        progress(done_bytes + read, total_bytes)
            done_bytes += read
        if batch:
            await self._send(principal, batch, report)
        if progress is not None:
            progress(total_bytes, total_bytes)
        return report

    async def _send(self, principal: Principal, batch: list[Line], report: ImportReport) -> None:
        result = await self._ingest.ingest(principal, [_with_id(line) for line in batch])
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.suppressed += result.suppressed
        report.dropped_no_consent += result.dropped_no_consent
        report.expired += result.expired
        report.rejected += len(result.rejected)
        for rejection in result.rejected:
            line = batch[rejection.index]
            report.problems.append(
                {"file": line.file, "line": line.number, "code": rejection.code, "field": rejection.field}
            )
