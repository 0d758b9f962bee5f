"""A refusal says who may use the field, so the caller knows which key to ask for."""

import pytest

from tests.conftest import Api


@pytest.mark.parametrize(
    ("role", "document", "message"),
    [
        ("ANALYST", "{ apiKeys { id } }", "Only ADMIN keys may use this field."),
        ("PERSONALIZATION", "{ ltvDrivers { event } }", "Only ANALYST or ADMIN keys may use this field."),
        (
            "INGEST",
            '{ profile(userId: "u") { id } }',
            "Only PERSONALIZATION, ANALYST, COMPLIANCE or ADMIN keys may use this field.",
        ),
        ("ADMIN", "{ me { phase } }", "Only a customer token with the READ scope may use this field."),
    ],
)
async def test_a_refusal_names_who_may_use_the_field(
    api: Api, role: str, document: str, message: str
) -> None:
    body = await api.gql(document, key=await api.key(role))
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [(message, "FORBIDDEN")]
