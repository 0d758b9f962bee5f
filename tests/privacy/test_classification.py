import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.classification import (
    STANDARD_PII_TRAITS,
    IdentifierKind,
    contact_kind,
    contacts,
    is_pii_trait,
    normalize_email,
    normalize_phone,
    split_traits,
)
from privacy.minimization import REMOVED


def test_the_standard_list_names_contact_name_address_and_birth_traits() -> None:
    assert (
        frozenset(
            {
                "email",
                "phone",
                "firstName",
                "lastName",
                "first_name",
                "last_name",
                "name",
                "address",
                "street",
                "city",
                "postalCode",
                "postal_code",
                "birthday",
                "birthdate",
            }
        )
        == STANDARD_PII_TRAITS
    )


@pytest.mark.parametrize("name", sorted(STANDARD_PII_TRAITS))
def test_every_standard_trait_is_personal(name: str) -> None:
    assert is_pii_trait(name)


@pytest.mark.parametrize("name", ["Email", "EMAIL", "FirstName", "first-name", "Postal Code", "birth_date"])
def test_spelling_variants_of_standard_traits_are_personal(name: str) -> None:
    assert is_pii_trait(name)


def test_a_trait_the_workspace_lists_is_personal() -> None:
    assert is_pii_trait("loyalty_card", frozenset({"loyaltyCard"}))


@pytest.mark.parametrize("name", ["plan", "company_size", "username", "emailOptIn"])
def test_other_traits_are_not_personal(name: str) -> None:
    assert not is_pii_trait(name)


def test_personal_traits_are_split_off_unchanged_for_encryption() -> None:
    address = {"street": "1 Main St", "city": "Springfield"}
    _, pii = split_traits({"email": " Ana@Example.com ", "address": address, "plan": "gold"})
    assert pii == {"email": " Ana@Example.com ", "address": {"street": "1 Main St", "city": "Springfield"}}


def test_an_email_hiding_in_a_plain_trait_does_not_survive() -> None:
    plain, _ = split_traits({"nickname": "mail me at ana@example.com", "plan": "gold"})
    assert plain == {"nickname": f"mail me at {REMOVED}", "plan": "gold"}


def test_plain_traits_are_scrubbed_all_the_way_down() -> None:
    plain, _ = split_traits({"contacts": [{"note": "+49 151 2345678"}], "ana@example.com": True})
    assert plain == {"contacts": [{"note": REMOVED}]}


def test_workspace_pii_traits_are_split_off() -> None:
    plain, pii = split_traits({"loyaltyCard": "LC-1", "plan": "gold"}, frozenset({"loyaltyCard"}))
    assert (plain, pii) == ({"plan": "gold"}, {"loyaltyCard": "LC-1"})


def test_the_traits_given_are_not_changed() -> None:
    traits = {"email": "a@b.co", "bio": "a@b.co"}
    split_traits(traits)
    assert traits == {"email": "a@b.co", "bio": "a@b.co"}


def test_emails_normalize_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Ana.Smith+Shop@Example.COM ") == "ana.smith+shop@example.com"


def test_an_international_domain_is_kept_in_its_ascii_punycode_form() -> None:
    assert normalize_email("José@Bücher.de") == "josé@xn--bcher-kva.de"


def test_an_address_asked_for_by_its_punycode_domain_is_the_same_address() -> None:
    assert normalize_email("jose@xn--bcher-kva.de") == normalize_email("Jose@BÜCHER.de")


def test_a_fullwidth_domain_is_folded_to_ascii() -> None:
    assert normalize_email("ana@ｅｘａｍｐｌｅ.com") == "ana@example.com"


def test_a_fullwidth_at_sign_is_an_at_sign() -> None:
    assert normalize_email("ana＠example.com") == "ana@example.com"


def test_the_domains_trailing_dot_is_removed() -> None:
    assert normalize_email("ana@example.com.") == "ana@example.com"


def test_the_address_of_a_display_name_form_is_taken() -> None:
    assert normalize_email("Ana Smith <Ana@Example.com>") == "ana@example.com"


def test_plus_addressing_is_kept_as_another_mailbox() -> None:
    assert normalize_email("ana+shop@example.com") != normalize_email("ana@example.com")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not an address",
        "ana@",
        "@example.com",
        "ana@example",
        "ana@@example.com",
        "a@b@example.com",
        "ana smith@example.com",
        "ana@example..com",
        "ana@example.com..",
        "ana@-",
        "x" * 65 + "@example.com",
        "ana@" + "a" * 250 + ".com",
    ],
)
def test_what_does_not_look_like_an_address_does_not_normalize(value: str) -> None:
    assert normalize_email(value) is None


@given(value=st.text(max_size=40))
def test_a_normalized_address_normalizes_to_itself(value: str) -> None:
    normalized = normalize_email(value)
    assert normalized is None or normalize_email(normalized) == normalized


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+44 (20) 7946-0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+1.415.555.0100", "+14155550100"),
        ("  +49 151 2345678 ", "+491512345678"),
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("+44/20/7946/0958", "+442079460958"),
    ],
)
def test_phones_normalize_to_e164(value: str, expected: str) -> None:
    assert normalize_phone(value) == expected


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [("020 7946 0958", "GB", "+442079460958"), ("(415) 555-0100", "US", "+14155550100")],
)
def test_a_national_number_normalizes_with_the_workspaces_region(
    value: str, region: str, expected: str
) -> None:
    assert normalize_phone(value, region=region) == expected


@pytest.mark.parametrize(
    "value",
    [
        "020 7946 0958",
        "(415) 555-0100",
        "+1234567",
        "+1234567890123456",
        "+0 44 20 7946 0958",
        "+44 20 7946 0958 ext 12",
        "+123456789012345",
        "",
    ],
)
def test_phones_without_a_country_or_not_possible_numbers_do_not_normalize(value: str) -> None:
    assert normalize_phone(value) is None


@given(value=st.text(alphabet="+0123456789 -.()", max_size=25))
def test_a_normalized_phone_is_always_e164(value: str) -> None:
    normalized = normalize_phone(value)
    # E.164 caps a number at 15 digits; the shortest possible one depends on the country (Austria has
    # 3-digit subscriber numbers), which phonenumbers knows.
    assert normalized is None or re.fullmatch(r"\+[1-9]\d{1,14}", normalized)


@pytest.mark.parametrize("name", ["email", "Email", "e-mail", "E_Mail", "emailAddress", "mail"])
def test_every_spelling_of_an_email_trait_is_an_email(name: str) -> None:
    assert contact_kind(name) is IdentifierKind.EMAIL
    assert is_pii_trait(name)


@pytest.mark.parametrize("name", ["phone", "Phone Number", "mobile", "mobile_phone", "tel"])
def test_every_spelling_of_a_phone_trait_is_a_phone(name: str) -> None:
    assert contact_kind(name) is IdentifierKind.PHONE
    assert is_pii_trait(name)


def test_contacts_are_found_under_any_spelling_and_normalized() -> None:
    found = contacts({"E-mail": "Ana@Example.com.", "Mobile": "020 7946 0958", "plan": "gold"}, region="GB")
    assert sorted(found) == [
        (IdentifierKind.EMAIL, "ana@example.com"),
        (IdentifierKind.PHONE, "+442079460958"),
    ]
