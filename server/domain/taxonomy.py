"""The micro-conversion taxonomy: each event name's phase, value, purpose and allowed properties."""

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType

from privacy.purposes import Purpose


class Phase(IntEnum):
    DISCOVERY = 1
    INTEREST = 2
    INTENT = 3
    ACTION = 4


PHASE_RANGES: Mapping[Phase, tuple[float, float]] = {
    Phase.DISCOVERY: (0.1, 0.3),
    Phase.INTEREST: (0.3, 0.6),
    Phase.INTENT: (0.6, 0.9),
    Phase.ACTION: (1.0, 1.0),
}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Segment property names are often camelCase, so properties allow upper case where event names do not.
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class EventDefinition:
    name: str
    phase: Phase | None
    value: float
    purpose: Purpose
    allowed_properties: frozenset[str]
    description: str = ""
    # (property, ((threshold or key, value), ...)): e.g. scroll depth by `percent`.
    value_by: tuple[str, tuple[tuple[str, float], ...]] | None = None


_PRODUCT = frozenset(
    {
        "product_id",
        "sku",
        "category",
        "product_type",
        "brand",
        "variant",
        "price",
        "currency",
        "position",
        "url",
        "name",
    }
)
_CART = _PRODUCT | {"quantity", "cart_id", "value"}
_CHECKOUT = frozenset(
    {
        "checkout_id",
        "order_id",
        "step",
        "value",
        "revenue",
        "currency",
        "coupon",
        "shipping_method",
        "payment_method",
        "products",
    }
)
_ORDER = frozenset(
    {
        "order_id",
        "revenue",
        "value",
        "total",
        "subtotal",
        "tax",
        "shipping",
        "discount",
        "coupon",
        "currency",
        "products",
        "plan",
        "category",
        "product_type",
        "affiliation",
        "shipping_method",
        "payment_method",
        "billing_interval",
    }
)
_MESSAGE = frozenset({"campaign_id", "campaign_name", "message_id", "link_id", "url", "category"})
_CONTENT = frozenset(
    {"content_id", "content_type", "title", "category", "percent", "duration", "url", "product_type"}
)


def _d(
    name: str,
    phase: Phase | None,
    value: float,
    purpose: Purpose,
    allowed: frozenset[str],
    description: str,
    value_by: tuple[str, tuple[tuple[str, float], ...]] | None = None,
) -> EventDefinition:
    return EventDefinition(name, phase, value, purpose, allowed, description, value_by)


_A, _N = Purpose.ANALYTICS, Purpose.NECESSARY
_DEFAULTS = (
    _d("product_viewed", Phase.DISCOVERY, 0.10, _A, _PRODUCT, "A product page was viewed."),
    _d(
        "category_browsed",
        Phase.DISCOVERY,
        0.15,
        _A,
        _PRODUCT | {"list_id"},
        "A category listing was browsed.",
    ),
    _d(
        "products_searched",
        Phase.DISCOVERY,
        0.20,
        _A,
        frozenset({"query", "category", "results"}),
        "The shop was searched (queries are scrubbed of PII).",
    ),
    _d(
        "product_image_zoomed",
        Phase.DISCOVERY,
        0.25,
        _A,
        _PRODUCT | {"image_index"},
        "A product image was zoomed.",
    ),
    _d(
        "product_video_engaged_30s",
        Phase.DISCOVERY,
        0.30,
        _A,
        _PRODUCT | {"video_id"},
        "A product video was watched for 30 s.",
    ),
    _d(
        "product_scrolled",
        Phase.DISCOVERY,
        0.10,
        _A,
        _PRODUCT | {"percent"},
        "Scroll depth on a product page by `percent`: the deepest mark reached counts, 20% → 0.10, "
        "50% → 0.15, 80% → 0.20, 100% → 0.25 (less than 20%, or no percent: 0.10).",
        ("percent", (("20", 0.10), ("50", 0.15), ("80", 0.20), ("100", 0.25))),
    ),
    _d(
        "product_added_to_wishlist",
        Phase.INTEREST,
        0.35,
        _A,
        _PRODUCT | {"wishlist_id"},
        "Saved to a wishlist.",
    ),
    _d("size_guide_viewed", Phase.INTEREST, 0.40, _A, _PRODUCT, "The size guide was opened."),
    _d(
        "reviews_read",
        Phase.INTEREST,
        0.45,
        _A,
        _PRODUCT | {"rating_filter"},
        "Product reviews were read.",
    ),
    _d(
        "product_shared",
        Phase.INTEREST,
        0.50,
        _A,
        _PRODUCT | {"share_via"},
        "A product was shared.",
    ),
    _d("product_added", Phase.INTEREST, 0.60, _A, _CART, "Added to cart."),
    _d("checkout_started", Phase.INTENT, 0.65, _A, _CHECKOUT, "Checkout started."),
    _d(
        "payment_info_entered",
        Phase.INTENT,
        0.75,
        _A,
        _CHECKOUT,
        "Payment details entered (never the details themselves).",
    ),
    _d(
        "shipping_info_entered",
        Phase.INTENT,
        0.80,
        _A,
        _CHECKOUT,
        "Shipping details entered (never the address itself).",
    ),
    _d("coupon_applied", Phase.INTENT, 0.85, _A, _CHECKOUT, "A coupon was applied."),
    _d("order_reviewed", Phase.INTENT, 0.90, _A, _CHECKOUT, "The order summary was reviewed."),
    _d(
        "order_completed",
        Phase.ACTION,
        1.0,
        _N,
        _ORDER,
        "An order was placed (necessary: a contract).",
    ),
    _d("subscription_started", Phase.ACTION, 1.0, _N, _ORDER, "A subscription was started."),
    _d(
        "account_created_with_purchase",
        Phase.ACTION,
        1.0,
        _N,
        _ORDER,
        "An account was created with a purchase.",
    ),
    _d(
        "order_refunded",
        None,
        0.0,
        _N,
        _ORDER,
        "A refund: negative revenue for LTV, not a conversion.",
    ),
    _d(
        "email_opened",
        Phase.DISCOVERY,
        0.10,
        Purpose.MARKETING_EMAIL,
        _MESSAGE,
        "A marketing e-mail was opened.",
    ),
    _d(
        "email_link_clicked",
        Phase.DISCOVERY,
        0.25,
        Purpose.MARKETING_EMAIL,
        _MESSAGE,
        "A link in a marketing e-mail was clicked.",
    ),
    _d(
        "sms_replied",
        Phase.INTEREST,
        0.35,
        Purpose.MARKETING_SMS,
        _MESSAGE,
        "A marketing SMS was answered.",
    ),
    _d(
        "preferences_updated",
        None,
        0.0,
        _A,
        frozenset({"category", "topics"}),
        "Communication preferences were changed (not scored).",
    ),
    _d("article_read", Phase.DISCOVERY, 0.20, _A, _CONTENT, "An article was read."),
    _d("video_completed", Phase.DISCOVERY, 0.30, _A, _CONTENT, "A video was watched to the end."),
    _d("webinar_attended", Phase.INTEREST, 0.50, _A, _CONTENT, "A webinar was attended."),
    _d("push_opened", Phase.DISCOVERY, 0.15, _A, _MESSAGE, "A push notification was opened."),
    _d("ar_used", Phase.INTEREST, 0.45, _A, _PRODUCT, "A product was tried on in AR."),
    _d(
        "ugc_created",
        Phase.INTEREST,
        0.40,
        _A,
        _CONTENT | {"product_id"},
        "A review, photo or post was created.",
    ),
    _d("content_shared", Phase.DISCOVERY, 0.20, _A, _CONTENT | {"share_via"}, "Content was shared."),
    _d(
        "page_viewed",
        None,
        0.0,
        _A,
        frozenset({"name", "category", "path", "title", "url"}),
        "A page call (navigation; counted, not scored).",
    ),
    _d(
        "screen_viewed",
        None,
        0.0,
        _A,
        frozenset({"name", "category"}),
        "A screen call (navigation; counted, not scored).",
    ),
)
# Read-only: every workspace shares it, so an accidental write would change every workspace's scores.
DEFAULT_TAXONOMY: Mapping[str, EventDefinition] = MappingProxyType({d.name: d for d in _DEFAULTS})


def value_for(definition: EventDefinition | None, properties: Mapping[str, object]) -> float:
    """0 for an unplanned event (no definition); with value_by (property, table): a number (or numeric
    string) takes the value of the largest numeric key ≤ it, any other string the value of the equal key;
    the definition's value when nothing matches or there is no value_by."""
    if definition is None:
        return 0.0
    if definition.value_by is None:
        return definition.value
    name, table = definition.value_by
    raw = properties.get(name)
    if isinstance(raw, str):
        exact = dict(table).get(raw.strip())
        if exact is not None:
            return exact
        raw = _number(raw)
    # bool is an int subclass, but `True` is no depth.
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        reached = [
            (threshold, value)
            for key, value in table
            if (threshold := _number(key)) is not None and threshold <= raw
        ]
        if reached:
            return max(reached)[1]
    return definition.value


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def with_overrides(
    base: Mapping[str, EventDefinition], overrides: Iterable[EventDefinition]
) -> dict[str, EventDefinition]:
    """The default extended, or replaced name by name, by a workspace's own definitions."""
    return {**base, **{d.name: d for d in overrides}}


def validate_definition(definition: EventDefinition) -> list[tuple[str, str]]:
    """(field, code) for every rule broken: name ^[a-z][a-z0-9_]{0,63}$; value (and every value_by value)
    inside its phase's range, or in [0, 1] without a phase; property names well formed; value_by's
    property allowed (minimization would drop it otherwise) and its table non-empty with unique keys."""
    problems: list[tuple[str, str]] = []
    if not _NAME.match(definition.name):
        problems.append(("name", "INVALID_EVENT_NAME"))
    if (code := _value_problem(definition.phase, definition.value)) is not None:
        problems.append(("value", code))
    if not all(_PROPERTY.match(p) for p in definition.allowed_properties):
        problems.append(("allowed_properties", "INVALID_PROPERTY_NAME"))
    if definition.value_by is not None:
        prop, table = definition.value_by
        keys = [key for key, _ in table]
        if prop not in definition.allowed_properties:
            problems.append(("value_by", "PROPERTY_NOT_ALLOWED"))
        if not table or len(set(keys)) != len(keys):
            problems.append(("value_by", "INVALID_VALUE_TABLE"))
        codes = {_value_problem(definition.phase, value) for _, value in table} - {None}
        problems.extend(("value_by", code) for code in sorted(c for c in codes if c is not None))
    return problems


def _value_problem(phase: Phase | None, value: float) -> str | None:
    if phase is None:
        return None if 0.0 <= value <= 1.0 else "VALUE_OUT_OF_RANGE"
    low, high = PHASE_RANGES[phase]
    # NaN fails both comparisons, so it is out of range too.
    return None if low <= value <= high else "VALUE_OUT_OF_PHASE_RANGE"


def is_action(definition: EventDefinition | None) -> bool:
    """True when the definition's phase is ACTION (a conversion that closes a journey)."""
    return definition is not None and definition.phase is Phase.ACTION
