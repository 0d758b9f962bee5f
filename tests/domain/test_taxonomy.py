import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.purposes import Purpose
from server.domain.taxonomy import (
    DEFAULT_TAXONOMY,
    PHASE_RANGES,
    EventDefinition,
    Phase,
    is_action,
    validate_definition,
    value_for,
    with_overrides,
)

DESIGN_TABLE = {
    "product_viewed": (Phase.DISCOVERY, 0.10),
    "category_browsed": (Phase.DISCOVERY, 0.15),
    "products_searched": (Phase.DISCOVERY, 0.20),
    "product_image_zoomed": (Phase.DISCOVERY, 0.25),
    "product_video_engaged_30s": (Phase.DISCOVERY, 0.30),
    "product_added_to_wishlist": (Phase.INTEREST, 0.35),
    "size_guide_viewed": (Phase.INTEREST, 0.40),
    "reviews_read": (Phase.INTEREST, 0.45),
    "product_shared": (Phase.INTEREST, 0.50),
    "product_added": (Phase.INTEREST, 0.60),
    "checkout_started": (Phase.INTENT, 0.65),
    "payment_info_entered": (Phase.INTENT, 0.75),
    "shipping_info_entered": (Phase.INTENT, 0.80),
    "coupon_applied": (Phase.INTENT, 0.85),
    "order_reviewed": (Phase.INTENT, 0.90),
    "order_completed": (Phase.ACTION, 1.0),
    "subscription_started": (Phase.ACTION, 1.0),
    "account_created_with_purchase": (Phase.ACTION, 1.0),
}
ALSO = [
    "product_scrolled",
    "email_opened",
    "email_link_clicked",
    "sms_replied",
    "preferences_updated",
    "article_read",
    "video_completed",
    "webinar_attended",
    "push_opened",
    "ar_used",
    "ugc_created",
    "content_shared",
    "order_refunded",
]
SCROLLED = DEFAULT_TAXONOMY["product_scrolled"]


def definition(
    name: str = "vip_lounge_entered",
    phase: Phase | None = Phase.INTEREST,
    value: float = 0.4,
    allowed: frozenset[str] = frozenset({"tier"}),
    value_by: tuple[str, tuple[tuple[str, float], ...]] | None = None,
) -> EventDefinition:
    return EventDefinition(name, phase, value, Purpose.ANALYTICS, allowed, "", value_by)


def test_the_default_holds_the_design_table_exactly() -> None:
    assert {n: (DEFAULT_TAXONOMY[n].phase, DEFAULT_TAXONOMY[n].value) for n in DESIGN_TABLE} == DESIGN_TABLE


def test_the_default_holds_every_other_named_event() -> None:
    assert set(ALSO) <= set(DEFAULT_TAXONOMY)


def test_every_definition_is_filed_under_its_own_name() -> None:
    assert all(name == d.name for name, d in DEFAULT_TAXONOMY.items())


@pytest.mark.parametrize("default", list(DEFAULT_TAXONOMY.values()), ids=lambda d: d.name)
def test_every_default_passes_validation(default: EventDefinition) -> None:
    assert validate_definition(default) == []


@pytest.mark.parametrize(
    "default", [d for d in DEFAULT_TAXONOMY.values() if d.phase is not None], ids=lambda d: d.name
)
def test_every_default_value_lies_in_its_phase_range(default: EventDefinition) -> None:
    assert default.phase is not None
    low, high = PHASE_RANGES[default.phase]
    values = [default.value, *(v for _, v in (default.value_by[1] if default.value_by else ()))]
    assert all(low <= v <= high for v in values)


@pytest.mark.parametrize(
    ("name", "purpose"),
    [
        ("order_completed", Purpose.NECESSARY),
        ("subscription_started", Purpose.NECESSARY),
        ("account_created_with_purchase", Purpose.NECESSARY),
        ("order_refunded", Purpose.NECESSARY),
        ("email_opened", Purpose.MARKETING_EMAIL),
        ("email_link_clicked", Purpose.MARKETING_EMAIL),
        ("sms_replied", Purpose.MARKETING_SMS),
        ("product_viewed", Purpose.ANALYTICS),
        ("checkout_started", Purpose.ANALYTICS),
        ("product_scrolled", Purpose.ANALYTICS),
        ("push_opened", Purpose.ANALYTICS),
    ],
)
def test_each_event_needs_the_purpose_it_serves(name: str, purpose: Purpose) -> None:
    assert DEFAULT_TAXONOMY[name].purpose is purpose


def test_a_refund_is_no_conversion_but_may_carry_revenue() -> None:
    refund = DEFAULT_TAXONOMY["order_refunded"]
    assert (refund.phase, refund.value, is_action(refund)) == (None, 0.0, False)
    assert {"order_id", "revenue", "currency"} <= refund.allowed_properties


def test_preferences_updated_is_outside_the_funnel_and_unscored() -> None:
    assert (DEFAULT_TAXONOMY["preferences_updated"].phase, DEFAULT_TAXONOMY["preferences_updated"].value) == (
        None,
        0.0,
    )


@pytest.mark.parametrize(
    ("name", "properties"),
    [
        ("products_searched", {"query"}),
        ("product_viewed", {"product_id", "sku", "category", "price", "currency"}),
        ("product_added", {"product_id", "quantity", "price"}),
        ("checkout_started", {"order_id", "step", "revenue", "coupon"}),
        ("order_completed", {"order_id", "revenue", "currency", "products", "coupon"}),
        ("email_link_clicked", {"campaign_id", "url"}),
        ("product_scrolled", {"percent", "product_id"}),
    ],
)
def test_events_allow_the_properties_they_are_sent_with(name: str, properties: set[str]) -> None:
    assert properties <= DEFAULT_TAXONOMY[name].allowed_properties


def test_no_default_allows_raw_contact_details() -> None:
    pii = {"email", "phone", "address", "first_name", "last_name", "card_number"}
    assert all(not (d.allowed_properties & pii) for d in DEFAULT_TAXONOMY.values())


def test_the_default_cannot_be_changed_in_place() -> None:
    with pytest.raises(TypeError):
        DEFAULT_TAXONOMY["product_viewed"] = definition()  # type: ignore[index]


@pytest.mark.parametrize(
    ("percent", "value"),
    [(10, 0.10), (20, 0.10), (49.9, 0.10), (50, 0.15), (55, 0.15), (80, 0.20), (99, 0.20), (100, 0.25)],
)
def test_scroll_depth_is_worth_the_deepest_mark_reached(percent: float, value: float) -> None:
    assert value_for(SCROLLED, {"percent": percent}) == value


def test_a_numeric_string_counts_as_its_number() -> None:
    assert value_for(SCROLLED, {"percent": "85"}) == 0.20


@pytest.mark.parametrize("percent", [None, True, "deep", math.nan, [80]])
def test_a_missing_or_unreadable_property_takes_the_base_value(percent: object) -> None:
    assert value_for(SCROLLED, {"percent": percent}) == SCROLLED.value


def test_a_string_key_matches_exactly() -> None:
    tiers = definition(value_by=("tier", (("gold", 0.55), ("silver", 0.45))))
    assert [value_for(tiers, {"tier": t}) for t in ("gold", "silver", "bronze")] == [0.55, 0.45, 0.4]


def test_an_event_without_a_value_table_takes_its_value() -> None:
    assert value_for(DEFAULT_TAXONOMY["coupon_applied"], {"coupon": "SPRING"}) == 0.85


def test_unplanned_events_are_worth_nothing() -> None:
    assert value_for(None, {"revenue": 100}) == 0.0


@given(low=st.floats(0, 200), high=st.floats(0, 200))
def test_scrolling_deeper_is_never_worth_less(low: float, high: float) -> None:
    low, high = sorted((low, high))
    assert value_for(SCROLLED, {"percent": low}) <= value_for(SCROLLED, {"percent": high})


def test_a_workspace_definition_replaces_the_default() -> None:
    mine = definition("product_viewed", Phase.DISCOVERY, 0.2)
    assert with_overrides(DEFAULT_TAXONOMY, [mine])["product_viewed"] is mine


def test_a_workspace_definition_extends_the_default() -> None:
    merged = with_overrides(DEFAULT_TAXONOMY, [definition()])
    assert set(merged) == set(DEFAULT_TAXONOMY) | {"vip_lounge_entered"}


def test_overriding_leaves_the_default_untouched() -> None:
    with_overrides(DEFAULT_TAXONOMY, [definition("product_viewed", Phase.DISCOVERY, 0.2)])
    assert DEFAULT_TAXONOMY["product_viewed"].value == 0.10


@pytest.mark.parametrize(
    ("phase", "value"),
    [(Phase.DISCOVERY, 0.31), (Phase.INTEREST, 0.29), (Phase.INTENT, 0.3), (Phase.ACTION, 0.9)],
)
def test_a_value_outside_its_phase_range_is_refused(phase: Phase, value: float) -> None:
    assert validate_definition(definition(phase=phase, value=value)) == [
        ("value", "VALUE_OUT_OF_PHASE_RANGE")
    ]


@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan])
def test_an_unphased_value_must_lie_between_zero_and_one(value: float) -> None:
    assert validate_definition(definition(phase=None, value=value)) == [("value", "VALUE_OUT_OF_RANGE")]


def test_a_nan_value_is_refused() -> None:
    assert validate_definition(definition(value=math.nan)) == [("value", "VALUE_OUT_OF_PHASE_RANGE")]


@pytest.mark.parametrize("name", ["Bad Name!", "", "1st_event", "_hidden", "product-viewed", "a" * 65])
def test_an_invalid_name_is_refused(name: str) -> None:
    assert validate_definition(definition(name=name)) == [("name", "INVALID_EVENT_NAME")]


def test_a_sixty_four_character_name_is_accepted() -> None:
    assert validate_definition(definition(name="a" * 64)) == []


def test_a_malformed_property_name_is_refused() -> None:
    bad = definition(allowed=frozenset({"tier", "bad name"}))
    assert validate_definition(bad) == [("allowed_properties", "INVALID_PROPERTY_NAME")]


def test_a_value_table_on_a_property_that_is_not_allowed_is_refused() -> None:
    bad = definition(allowed=frozenset(), value_by=("tier", (("gold", 0.5),)))
    assert validate_definition(bad) == [("value_by", "PROPERTY_NOT_ALLOWED")]


def test_a_value_table_entry_outside_the_phase_range_is_refused() -> None:
    bad = definition(value_by=("tier", (("gold", 0.9),)))
    assert validate_definition(bad) == [("value_by", "VALUE_OUT_OF_PHASE_RANGE")]


@pytest.mark.parametrize("table", [(), (("gold", 0.5), ("gold", 0.55))])
def test_an_empty_or_ambiguous_value_table_is_refused(table: tuple[tuple[str, float], ...]) -> None:
    assert validate_definition(definition(value_by=("tier", table))) == [("value_by", "INVALID_VALUE_TABLE")]


def test_every_broken_rule_is_reported() -> None:
    bad = definition(name="Bad", value=2.0, allowed=frozenset(), value_by=("tier", (("gold", 2.0),)))
    assert validate_definition(bad) == [
        ("name", "INVALID_EVENT_NAME"),
        ("value", "VALUE_OUT_OF_PHASE_RANGE"),
        ("value_by", "PROPERTY_NOT_ALLOWED"),
        ("value_by", "VALUE_OUT_OF_PHASE_RANGE"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("order_completed", True), ("order_reviewed", False), ("order_refunded", False)],
)
def test_only_action_phase_events_are_actions(name: str, expected: bool) -> None:
    assert is_action(DEFAULT_TAXONOMY[name]) is expected


def test_an_unplanned_event_is_no_action() -> None:
    assert is_action(None) is False
