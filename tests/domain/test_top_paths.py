from datetime import UTC, datetime, timedelta

from server.domain.attribution import Path, Touch
from server.domain.top_paths import top_paths

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def path(events: list[str], converted: bool, profile: str = "p") -> Path:
    touches = tuple(Touch(T0 + timedelta(minutes=i), "email", None, e) for i, e in enumerate(events))
    return Path(
        profile,
        touches,
        converted,
        T0 + timedelta(hours=1) if converted else None,
        10.0 if converted else 0.0,
    )


def test_sequences_are_ranked_by_conversions_with_their_rate() -> None:
    paths = [
        path(["product_viewed", "product_added"], True),
        path(["product_viewed", "product_viewed", "product_added"], True),
        path(["product_viewed", "product_added"], False),
        path(["size_guide_viewed"], True),
        path(["size_guide_viewed"], False),
        path(["size_guide_viewed"], False),
        path(["reviews_read"], False),
    ]
    stats = top_paths(paths, first=10)
    assert [(s.steps, s.conversions, s.journeys) for s in stats] == [
        (("product_viewed", "product_added"), 2, 3),
        (("size_guide_viewed",), 1, 3),
    ]
    assert stats[0].conversion_rate == 2 / 3


def test_only_the_last_steps_count_and_first_limits_the_list() -> None:
    long = path(["a", "b", "c", "d", "e", "f", "g"], True)
    assert top_paths([long], first=1, max_length=3)[0].steps == ("e", "f", "g")
    assert top_paths([long, path(["x"], True)], first=1) == top_paths([long], first=1)
