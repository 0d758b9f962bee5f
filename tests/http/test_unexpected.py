"""One logging policy on every route: class and frames of an unexpected error, never its message."""

from typing import Any

import pytest

from tests.conftest import ADMIN_KEY, Api
from tests.factories import track

FIXTURE_EMAIL = "leak.check@example.com"


async def _fail_inserts(api: Api, mode: Any) -> None:
    # A server error that is neither an outage nor a timeout: nothing expects it.
    await api.db.client.admin.command(
        {
            "configureFailPoint": "failCommand",
            "mode": mode,
            "data": {"failCommands": ["insert", "update"], "errorCode": 2, "appName": "granular"},
        }
    )


async def test_a_500_on_v1_batch_is_logged_by_class_and_frames_without_message_or_values(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    message = track("product_viewed", user_id="leaky-user-77")
    message["context"]["traits"] = {"email": FIXTURE_EMAIL}
    await _fail_inserts(api, "alwaysOn")
    try:
        response = await api.http.post(
            "/v1/batch", json={"batch": [message]}, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
    finally:
        await _fail_inserts(api, "off")
    assert response.status_code == 500
    assert response.json() == {
        "errors": [{"message": "Unexpected error.", "extensions": {"code": "INTERNAL"}}]
    }
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "unexpected OperationFailure at POST /v1/batch" in logged
    assert "segment.py" in logged  # the frames are there
    for leak in ("failCommand", "leaky-user-77", FIXTURE_EMAIL, message["messageId"]):
        assert leak not in logged
