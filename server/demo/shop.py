"""A synthetic shop, seeded and reproducible: customers, channels, sessions that follow the
taxonomy's phases, cross-device identity, consent mixes, orders, repeat buyers and refunds.

Customers differ the way the LTV models assume real ones do: each has their own visit rate, chance
of buying in a session, chance of leaving after one, and typical order value. So enough of them buy
again for both models to fit, and the careful researchers (size guide, reviews) are also the more
frequent buyers, which the early-driver reports should find.

It produces Segment-shaped messages only; `granular demo` sends them through the ingest path.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

CATEGORIES = ("shoes", "jackets", "bags", "knitwear", "accessories", "jeans")
# (channel, share, campaign or referrer that lets the ingest path derive it)
CHANNELS: tuple[tuple[str, float, dict[str, Any]], ...] = (
    ("email", 0.16, {"campaign": {"medium": "email", "source": "newsletter", "name": "weekly-edit"}}),
    ("sms", 0.06, {"campaign": {"medium": "sms", "source": "attentive", "name": "flash-sale"}}),
    ("push", 0.05, {"campaign": {"medium": "push", "source": "app", "name": "back-in-stock"}}),
    ("paid_search", 0.17, {"campaign": {"medium": "cpc", "source": "google", "name": "brand-search"}}),
    (
        "paid_social",
        0.14,
        {"campaign": {"medium": "paid_social", "source": "instagram", "name": "autumn-reels"}},
    ),
    ("organic_search", 0.14, {"page": {"referrer": "https://www.google.com/"}}),
    ("organic_social", 0.08, {"page": {"referrer": "https://www.pinterest.com/"}}),
    ("affiliate", 0.05, {"campaign": {"medium": "affiliate", "source": "stylefinder", "name": "partners"}}),
    ("referral", 0.04, {"page": {"referrer": "https://blog.fashion.example/best-boots"}}),
    ("direct", 0.11, {}),
)
ALL = {
    "analytics": True,
    "personalization": True,
    "marketing_email": True,
    "marketing_sms": True,
    "advertising": True,
}
# (share, categoryPreferences, sends GPC)
CONSENT_MIXES: tuple[tuple[float, dict[str, bool], bool], ...] = (
    (0.72, ALL, False),
    (0.10, {"analytics": True, "personalization": False, "advertising": False}, False),
    (0.10, {"analytics": False, "personalization": False}, False),
    (0.08, ALL, True),
)


@dataclass(frozen=True)
class Plan:
    customers: int
    days: int
    seed: int


WANDERS_OFF = 0.3  # chance that a session without an order is a never-buyer's last


@dataclass(frozen=True)
class Habits:
    """One customer's own rates (heterogeneous across customers, as BG/NBD and Gamma-Gamma assume)."""

    visits_per_day: float
    buys: float  # chance that a session ends in an order
    leaves: float  # chance of never coming back after an order
    order_value: float  # the mean of their orders, in EUR

    @classmethod
    def draw(cls, rng: random.Random) -> "Habits":
        return cls(
            visits_per_day=rng.gammavariate(2.0, 1 / 10),
            buys=rng.betavariate(0.8, 2.2),
            leaves=rng.betavariate(0.7, 2.0),
            order_value=rng.gammavariate(4.0, 25.0),
        )


def messages(plan: Plan, now: datetime) -> list[dict[str, Any]]:
    """Every message of the shop, in time order (so identity and consent arrive as they would)."""
    rng = random.Random(plan.seed)  # noqa: S311 - synthetic data, reproducible by design
    result = [m for customer in range(plan.customers) for m in _customer(rng, customer, plan, now)]
    return sorted(result, key=lambda m: m["timestamp"])


def _customer(rng: random.Random, number: int, plan: Plan, now: datetime) -> Iterator[dict[str, Any]]:
    share_weights = [mix[0] for mix in CONSENT_MIXES]
    _, preferences, gpc = rng.choices(CONSENT_MIXES, weights=share_weights)[0]
    devices = [f"anon-{plan.seed}-{number}-{d}" for d in range(rng.choice((1, 1, 2)))]
    user_id = f"customer-{number:05d}"
    favourite = rng.choice(CATEGORIES)
    identified = False
    habits = Habits.draw(rng)
    start = now - timedelta(days=rng.uniform(1, plan.days))
    while start < now:
        _, _, context = rng.choices(CHANNELS, weights=[c[1] for c in CHANNELS])[0]
        device = rng.choice(devices)
        session = _Session(
            rng, now, start, device, user_id if identified else None, context, preferences, gpc
        )
        category = favourite if rng.random() < 0.7 else rng.choice(CATEGORIES)
        yield from session.browse(category, habits)
        if session.purchased:
            if not identified:
                identified = True
                yield session.identify(user_id, number)
            yield from session.refund_maybe()
        # As BG/NBD has it, a customer may leave for good right after an order (and only then);
        # a visitor who never bought drifts away after any session.
        if rng.random() < (habits.leaves if session.purchased else 0.0 if identified else WANDERS_OFF):
            break
        start += timedelta(days=rng.expovariate(habits.visits_per_day))


class _Session:
    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        at: datetime,
        device: str,
        user_id: str | None,
        context: dict[str, Any],
        preferences: dict[str, bool],
        gpc: bool,
    ) -> None:
        self.rng, self.now, self.at = rng, now, at
        self.device, self.user_id = device, user_id
        self.context = {**context, "consent": {"categoryPreferences": preferences}}
        if gpc:
            self.context["gpc"] = True
        self.purchased: float | None = None

    def _message(self, event: str, properties: dict[str, Any], kind: str = "track") -> dict[str, Any]:
        self.at += timedelta(seconds=self.rng.uniform(8, 240))
        message: dict[str, Any] = {
            "type": kind,
            "event": event,
            "messageId": f"demo-{self.rng.getrandbits(64):016x}",
            "anonymousId": self.device,
            "timestamp": min(self.at, self.now).isoformat(),
            "properties": properties,
            "context": self.context,
        }
        if self.user_id:
            message["userId"] = self.user_id
        return message

    def browse(self, category: str, habits: Habits) -> Iterator[dict[str, Any]]:
        rng = self.rng
        buys = rng.random() < habits.buys
        price = round(rng.gammavariate(6.0, habits.order_value / 6), 2)
        product: dict[str, Any] = {
            "category": category,
            "sku": f"{category[:3].upper()}-{rng.randrange(40):03d}",
            "price": price,
            "currency": "EUR",
        }
        yield self._message("category_browsed", {"category": category})
        for _ in range(rng.randint(1, 2)):
            yield self._message("product_viewed", product)
            if rng.random() < 0.3:
                yield self._message("product_scrolled", {**product, "percent": rng.choice((20, 50, 80, 100))})
            if rng.random() < 0.3:
                yield self._message("product_image_zoomed", product)
        # Customers who research are the ones who buy more often.
        if rng.random() < 0.1 + 0.6 * habits.buys:
            yield self._message("size_guide_viewed", product)
        if rng.random() < 0.08 + 0.5 * habits.buys:
            yield self._message("reviews_read", product)
        if not (buys or rng.random() < 0.3):
            return
        yield self._message("product_added", {**product, "quantity": 1})
        if not (buys or rng.random() < 0.4):
            return
        yield self._message("checkout_started", {"value": price, "currency": "EUR"})
        yield self._message("shipping_info_entered", {"step": 2})
        if rng.random() < 0.2:
            yield self._message("coupon_applied", {"coupon": "WELCOME10"})
        yield self._message("payment_info_entered", {"step": 3})
        if not buys:
            return
        revenue = round(price * rng.choice((1, 1, 1, 2)) * rng.uniform(0.9, 1.0), 2)
        self.purchased = revenue
        yield self._message(
            "order_completed",
            {
                "order_id": f"o-{rng.getrandbits(40):x}",
                "revenue": revenue,
                "currency": "EUR",
                "category": category,
            },
        )

    def identify(self, user_id: str, number: int) -> dict[str, Any]:
        message = self._message("", {}, "identify")
        del message["event"]
        message["userId"] = user_id
        message["traits"] = {
            "email": f"customer{number}@demo.granular.example",
            "plan": "member",
            "firstName": f"Customer {number}",
        }
        self.user_id = user_id
        return message

    def refund_maybe(self) -> Iterator[dict[str, Any]]:
        if self.purchased is not None and self.rng.random() < 0.04:
            self.at += timedelta(days=self.rng.uniform(2, 10))
            if self.at < self.now:
                yield self._message("order_refunded", {"revenue": self.purchased, "currency": "EUR"})
