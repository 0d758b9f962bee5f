"""defineEvent: a refused definition says what the broken rule allows."""

from typing import Any

from tests.conftest import Api

DEFINE = """mutation($input: EventDefinitionInput!) { defineEvent(input: $input) { name phase value } }"""


async def _define(api: Api, value: float) -> dict[str, Any]:
    definition = {"name": "gift_wrapped", "phase": "INTEREST", "value": value, "purpose": "ANALYTICS"}
    return await api.gql(DEFINE, {"input": {**definition, "allowedProperties": []}})


async def test_a_value_outside_its_phase_range_is_refused_with_the_ranges(api: Api) -> None:
    error = (await _define(api, 0.9))["errors"][0]
    assert error["extensions"] == {"code": "VALUE_OUT_OF_PHASE_RANGE", "field": "value"}
    assert error["message"] == (
        "`value` must lie in its phase's range (DISCOVERY 0.1–0.3, INTEREST 0.3–0.6, INTENT 0.6–0.9, ACTION 1.0)."
    )


async def test_a_definition_within_the_rules_is_saved(api: Api) -> None:
    body = await _define(api, 0.5)
    assert body["data"]["defineEvent"] == {"name": "gift_wrapped", "phase": "INTEREST", "value": 0.5}
