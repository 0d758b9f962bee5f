from tests.conftest import Api
from tests.graphql.test_dsr import EXPORT, USER, _subject


async def test_head_does_not_spend_an_export_link(api: Api) -> None:
    await _subject(api)
    body = await api.gql(EXPORT, {"subject": {"userId": USER}})
    path = body["data"]["requestExport"]["downloadUrl"].removeprefix("http://testserver")
    probed = await api.http.head(path)
    assert probed.status_code == 405
    assert probed.headers["Allow"] == "GET"
    assert (await api.http.get(path)).status_code == 200
