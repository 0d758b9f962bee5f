"""Group calls: the account or household is stored with its traits, and the customer linked to it."""

from privacy.erasure import Regulation
from server.domain.access import Principal, Role
from server.services.dsr import Subject
from tests.services.conftest import Stack


def _group(group_id: str = "acme", user_id: str = "ana", **traits: object) -> dict[str, object]:
    return {"type": "group", "groupId": group_id, "userId": user_id, "traits": traits}


async def test_a_group_call_links_the_customer_and_keeps_the_groups_traits(stack: Stack) -> None:
    await stack.services.ingest.ingest(stack.ingest, [_group(plan="enterprise", employees=40)])
    profile = await stack.services.profiles.find(stack.admin, user_id="ana")
    assert profile is not None
    assert profile.groups == ("acme",)
    assert profile.traits == {}
    (group,) = (await stack.services.profiles.groups_of(stack.admin, [profile]))[profile.id]
    assert (group.id, group.traits) == ("acme", {"plan": "enterprise", "employees": 40})


async def test_a_groups_personal_traits_are_encrypted_and_shown_only_to_roles_that_see_them(
    stack: Stack,
) -> None:

    await stack.services.ingest.ingest(stack.ingest, [_group(email="billing@acme.example", plan="pro")])
    stored = await stack.db["groups"].find_one({})
    assert "billing@acme.example" not in str(stored)
    analyst = Principal(workspace_id="w1", role=Role.ANALYST, key_id="k-analyst")
    profile = await stack.services.profiles.find(stack.admin, user_id="ana")
    assert profile is not None
    (seen_by_admin,) = (await stack.services.profiles.groups_of(stack.admin, [profile]))[profile.id]
    (seen_by_analyst,) = (await stack.services.profiles.groups_of(analyst, [profile]))[profile.id]
    assert seen_by_admin.traits == {"email": "billing@acme.example", "plan": "pro"}
    assert seen_by_analyst.traits == {"plan": "pro"}


async def test_a_resent_group_call_is_a_duplicate(stack: Stack) -> None:
    message = {**_group(), "messageId": "g-1"}
    await stack.services.ingest.ingest(stack.ingest, [message])
    assert (await stack.services.ingest.ingest(stack.ingest, [message])).duplicates == 1


async def test_a_profile_belongs_to_at_most_twenty_groups(stack: Stack) -> None:
    result = await stack.services.ingest.ingest(stack.ingest, [_group(f"g{n}") for n in range(22)])
    assert result.accepted == 20
    assert {r.code for r in result.rejected} == {"TOO_MANY_GROUPS"}


async def test_the_export_lists_the_groups_and_erasure_removes_the_links(stack: Stack) -> None:
    await stack.services.ingest.ingest(stack.ingest, [_group()])
    _, link = await stack.services.dsr.request_export(
        stack.admin, Subject(user_id="ana"), Regulation.GDPR, base_url="http://x"
    )
    stream = await stack.services.dsr.export_stream(link.rsplit("/", 1)[1])
    assert stream is not None
    document = "".join([part async for part in stream])
    assert '"groups": ["acme"]' in document
    await stack.services.dsr.request_erasure(stack.admin, Subject(user_id="ana"), Regulation.GDPR)
    assert await stack.db["profiles"].count_documents({"groups": "acme"}) == 0
