"""`granular import` throughput: a newline-delimited JSON file of Segment messages imported the way the
command does it (the ingest service in the importing process, batches of 500), in lines per second."""

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from privacy.crypto import new_keyring
from server.domain.access import Principal, Role
from server.services.history_import import HistoryImport
from server.storage.client import connect
from server.storage.indexes import ensure_indexes
from server.wiring import Services


async def lines_per_second(uri: str, database: str, messages: list[dict[str, Any]]) -> float:
    with tempfile.TemporaryDirectory(prefix="granular-import-") as tmp:
        path = Path(tmp) / "history.ndjson"
        path.write_text("".join(json.dumps(m) + "\n" for m in messages))
        client = connect(uri, timeout_ms=60_000)
        try:
            db = client[database]
            await ensure_indexes(db)
            services = Services.build(db, new_keyring())
            await services.migrations.run_pending()
            started = time.perf_counter()
            report = await HistoryImport(services.ingest).run(
                Principal("default", Role.ADMIN, "bench"), [path]
            )
            seconds = time.perf_counter() - started
        finally:
            await client.close()
    assert report.accepted == len(messages), report
    return len(messages) / seconds
