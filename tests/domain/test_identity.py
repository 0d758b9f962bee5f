from server.domain.identity import Known, Outcome, resolve


def _resolve(**kwargs: object) -> object:
    defaults: dict[str, object] = {
        "user_id": None,
        "anonymous_id": None,
        "by_user": None,
        "by_anonymous": None,
        "may_merge_identified": False,
    }
    return resolve(**{**defaults, **kwargs})  # type: ignore[arg-type]


def test_unknown_ids_create_a_profile() -> None:
    result = _resolve(user_id="u1", anonymous_id="a1")
    assert result.outcome is Outcome.CREATE
    assert (result.add_user_id, result.add_anonymous_id) == ("u1", "a1")


def test_anonymous_profile_learns_its_user_id() -> None:
    result = _resolve(user_id="u1", anonymous_id="a1", by_anonymous=Known("p1", None))
    assert (result.outcome, result.target, result.add_user_id) == (Outcome.LINK, "p1", "u1")


def test_identified_profile_learns_a_new_device() -> None:
    result = _resolve(user_id="u1", anonymous_id="a2", by_user=Known("p1", "u1"))
    assert (result.outcome, result.target, result.add_anonymous_id) == (Outcome.LINK, "p1", "a2")


def test_anonymous_profile_merges_into_the_identified_one() -> None:
    result = _resolve(
        user_id="u1", anonymous_id="a1", by_user=Known("p1", "u1"), by_anonymous=Known("p2", None)
    )
    assert (result.outcome, result.target, result.loser) == (Outcome.MERGE, "p1", "p2")


def test_two_identified_profiles_are_not_merged_by_a_browser_key() -> None:
    result = _resolve(
        user_id="u1", anonymous_id="a1", by_user=Known("p1", "u1"), by_anonymous=Known("p2", "u2")
    )
    assert (result.outcome, result.target, result.loser) == (Outcome.REFUSED_MERGE, "p1", None)


def test_two_identified_profiles_merge_for_a_key_that_may() -> None:
    result = _resolve(
        user_id="u1",
        anonymous_id="a1",
        by_user=Known("p1", "u1"),
        by_anonymous=Known("p2", "u2"),
        may_merge_identified=True,
    )
    assert (result.outcome, result.loser) == (Outcome.MERGE, "p2")


def test_a_shared_device_gives_the_second_user_a_profile_of_their_own() -> None:
    result = _resolve(user_id="u2", anonymous_id="a1", by_anonymous=Known("p1", "u1"))
    assert (result.outcome, result.target, result.add_user_id) == (Outcome.CREATE, None, "u2")
    assert result.add_anonymous_id is None


def test_ids_already_known_to_one_profile_change_nothing() -> None:
    known = Known("p1", "u1")
    result = _resolve(user_id="u1", anonymous_id="a1", by_user=known, by_anonymous=known)
    assert (result.outcome, result.target) == (Outcome.EXISTING, "p1")


def test_an_alias_to_another_customers_user_id_is_refused_for_a_browser_key() -> None:
    result = _resolve(
        user_id="u1",
        anonymous_id="u2",
        by_user=Known("p1", "u1"),
        by_anonymous=Known("p2", "u2"),
        second_is_user=True,
    )
    assert (result.outcome, result.target, result.rule) == (
        Outcome.REFUSED_MERGE,
        "p1",
        "identified_alias_needs_server_key",
    )


def test_an_alias_of_a_new_user_id_to_an_identified_customer_is_refused_for_a_browser_key() -> None:
    result = _resolve(user_id="u-new", anonymous_id="u2", by_anonymous=Known("p2", "u2"), second_is_user=True)
    assert (result.outcome, result.target, result.add_user_id) == (Outcome.REFUSED_MERGE, None, "u-new")


def test_an_alias_of_a_new_user_id_becomes_an_alias_for_a_key_that_may() -> None:
    result = _resolve(
        user_id="u-new",
        anonymous_id="u2",
        by_anonymous=Known("p2", "u2"),
        second_is_user=True,
        may_merge_identified=True,
    )
    assert (result.outcome, result.target, result.add_alias) == (Outcome.LINK, "p2", "u-new")


def test_an_alias_between_two_identified_customers_merges_for_a_key_that_may() -> None:
    result = _resolve(
        user_id="u1",
        anonymous_id="u2",
        by_user=Known("p1", "u1"),
        by_anonymous=Known("p2", "u2"),
        second_is_user=True,
        may_merge_identified=True,
    )
    assert (result.outcome, result.target, result.loser) == (Outcome.MERGE, "p1", "p2")
