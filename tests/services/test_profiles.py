from server.domain.identity import Merge
from tests.factories import track
from tests.services.conftest import Stack


async def test_merges_are_typed_records_of_the_rule_and_the_key_behind_them(stack: Stack) -> None:
    profiles = stack.services.profiles
    await stack.services.ingest.ingest(stack.admin, [track(anonymous_id="phone")])
    await stack.services.ingest.ingest(stack.admin, [track(user_id="u1", anonymous_id="laptop")])
    await stack.services.ingest.ingest(stack.admin, [track(user_id="u1", anonymous_id="phone")])
    winner = await profiles.find(stack.admin, user_id="u1")
    assert winner is not None

    merges = await profiles.merges(stack.admin, winner.id)

    assert len(merges) == 1
    merge = merges[0]
    assert isinstance(merge, Merge)
    assert (merge.winner_id, merge.rule, merge.key_id, merge.merged) == (
        winner.id,
        "anonymous_into_identified",
        "k-admin",
        True,
    )
    assert merge.loser_id is not None
    assert merge.loser_id != winner.id
