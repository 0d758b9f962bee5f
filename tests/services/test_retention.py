import pytest

from server.domain.errors import InvalidInput
from server.domain.retention import DataKind
from tests.factories import track
from tests.services.conftest import Stack


async def test_a_new_period_restamps_every_stored_event_in_bounded_batches(stack: Stack) -> None:
    events = [track(anonymous_id=f"a{n}") for n in range(3)]
    await stack.services.ingest.ingest(stack.admin, events)

    change = await stack.services.retention.set_days(stack.admin, DataKind.EVENTS, 30, batch_size=2)

    assert (change.kind, change.days, change.restamped, change.batches) == (DataKind.EVENTS, 30, 3, 2)
    report = {row.kind: row for row in await stack.services.retention.report(stack.admin)}
    assert (report[DataKind.EVENTS].days, report[DataKind.EVENTS].documents) == (30, 3)


@pytest.mark.parametrize("days", [0, 3654])
async def test_a_period_out_of_bounds_is_refused_naming_days_and_changes_nothing(
    stack: Stack, days: int
) -> None:
    before = await stack.services.retention.report(stack.admin)
    with pytest.raises(InvalidInput) as refused:
        await stack.services.retention.set_days(stack.admin, DataKind.EVENTS, days)
    assert (refused.value.field, refused.value.code) == ("days", "OUT_OF_RANGE")
    assert await stack.services.retention.report(stack.admin) == before
