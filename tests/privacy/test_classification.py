from privacy.classification import is_pii_trait, normalize_email, normalize_phone, split_traits


def test_standard_and_workspace_pii_traits_are_personal() -> None:
    assert is_pii_trait("email")
    assert is_pii_trait("loyaltyCard", frozenset({"loyaltyCard"}))
    assert not is_pii_trait("plan")


def test_split_traits_scrubs_pii_hiding_in_plain_traits() -> None:
    plain, personal = split_traits({"email": "a@b.co", "nickname": "mail me at a@b.co", "plan": "gold"})
    assert personal == {"email": "a@b.co"}
    assert plain == {"nickname": "mail me at [removed]", "plan": "gold"}


def test_emails_normalize_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Ana@Example.COM ") == "ana@example.com"
    assert normalize_email("not an address") is None


def test_phones_normalize_to_e164_without_guessing_a_region() -> None:
    assert normalize_phone("+44 (20) 7946-0958") == "+442079460958"
    assert normalize_phone("0044 20 7946 0958") == "+442079460958"
    assert normalize_phone("020 7946 0958") is None
