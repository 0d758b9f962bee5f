from tests.conftest import Api


async def test_denied_calls_are_recorded_once_per_key_operation_and_minute_with_a_count(api: Api) -> None:
    ingest = await api.key("INGEST")
    for _ in range(40):
        body = await api.gql("{ apiKeys { id } }", key=ingest)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    entries = [doc async for doc in api.db["audit_log"].find({"action": "access.denied"})]
    assert [(e["details"]["operation"], e["details"]["count"]) for e in entries] == [("apiKeys", 40)]


async def test_denials_of_another_operation_get_their_own_entry(api: Api) -> None:
    ingest = await api.key("INGEST")
    await api.gql("{ apiKeys { id } }", key=ingest)
    await api.gql("{ triggers { id } }", key=ingest)
    assert await api.db["audit_log"].count_documents({"action": "access.denied"}) == 2
