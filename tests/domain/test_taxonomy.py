import pytest

from privacy.purposes import Purpose
from server.domain.taxonomy import (
    DEFAULT_TAXONOMY,
    PHASE_RANGES,
    EventDefinition,
    Phase,
    validate_definition,
    value_for,
    with_overrides,
)

DESIGN_TABLE = {
    "product_viewed": 0.10,
    "category_browsed": 0.15,
    "products_searched": 0.20,
    "product_image_zoomed": 0.25,
    "product_video_engaged_30s": 0.30,
    "product_added_to_wishlist": 0.35,
    "size_guide_viewed": 0.40,
    "reviews_read": 0.45,
    "product_shared": 0.50,
    "product_added": 0.60,
    "checkout_started": 0.65,
    "payment_info_entered": 0.75,
    "shipping_info_entered": 0.80,
    "coupon_applied": 0.85,
    "order_reviewed": 0.90,
    "order_completed": 1.0,
    "subscription_started": 1.0,
    "account_created_with_purchase": 1.0,
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
]


def test_the_default_holds_the_design_table_exactly() -> None:
    assert {name: DEFAULT_TAXONOMY[name].value for name in DESIGN_TABLE} == DESIGN_TABLE


def test_the_default_holds_every_other_named_event() -> None:
    assert set(ALSO) <= set(DEFAULT_TAXONOMY)


@pytest.mark.parametrize("definition", list(DEFAULT_TAXONOMY.values()), ids=lambda d: d.name)
def test_every_default_value_lies_in_its_phase_range(definition: EventDefinition) -> None:
    assert validate_definition(definition) == []
    if definition.phase is not None:
        low, high = PHASE_RANGES[definition.phase]
        assert low <= definition.value <= high


def test_purchases_are_necessary_and_email_events_need_email_marketing_consent() -> None:
    assert DEFAULT_TAXONOMY["order_completed"].purpose is Purpose.NECESSARY
    assert DEFAULT_TAXONOMY["email_opened"].purpose is Purpose.MARKETING_EMAIL
    assert DEFAULT_TAXONOMY["sms_replied"].purpose is Purpose.MARKETING_SMS


@pytest.mark.parametrize(("percent", "value"), [(10, 0.10), (20, 0.10), (55, 0.15), (80, 0.20), (100, 0.25)])
def test_scroll_depth_is_worth_more_the_deeper_it_goes(percent: int, value: float) -> None:
    assert value_for(DEFAULT_TAXONOMY["product_scrolled"], {"percent": percent}) == value


def test_unplanned_events_are_worth_nothing() -> None:
    assert value_for(None, {"revenue": 100}) == 0.0


def test_a_workspace_definition_replaces_the_default() -> None:
    mine = EventDefinition("product_viewed", Phase.DISCOVERY, 0.2, Purpose.ANALYTICS, frozenset())
    assert with_overrides(DEFAULT_TAXONOMY, [mine])["product_viewed"].value == 0.2


def test_a_value_outside_its_phase_range_is_refused() -> None:
    bad = EventDefinition("vip_lounge_entered", Phase.INTENT, 0.3, Purpose.ANALYTICS, frozenset())
    assert validate_definition(bad) == [("value", "VALUE_OUT_OF_PHASE_RANGE")]


def test_an_invalid_name_is_refused() -> None:
    bad = EventDefinition("Bad Name!", None, 0.0, Purpose.ANALYTICS, frozenset())
    assert validate_definition(bad) == [("name", "INVALID_EVENT_NAME")]
