"""Identity resolution: which profile a message belongs to, and when two profiles become one."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    CREATE = "create"  # no profile knows these ids yet
    EXISTING = "existing"  # one profile already knows every id
    LINK = "link"  # one profile learns a new id
    MERGE = "merge"  # two profiles prove to be one person
    REFUSED_MERGE = "refused_merge"  # they would, but this key may not merge identified profiles


@dataclass(frozen=True)
class Known:
    """A stored profile as identity sees it."""

    id: str
    user_id: str | None


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    target: str | None  # the profile the message lands on (None: create one)
    loser: str | None = None  # merged into target
    add_user_id: str | None = None
    add_anonymous_id: str | None = None
    rule: str = ""
    add_alias: str | None = None  # a further user id for the target (alias to an identified profile)


def resolve(
    *,
    user_id: str | None,
    anonymous_id: str | None,
    by_user: Known | None,
    by_anonymous: Known | None,
    may_merge_identified: bool,
    second_is_user: bool = False,
) -> Resolution:
    """Find the message's profile: link an anonymous id to its user; merge an anonymous profile into
    the identified one; merge two identified profiles only for keys that may (a browser key must not
    be able to join two customers' histories). `second_is_user`: the second id is another customer's
    user id (an alias whose previousId is a user id), which only such keys may join to this one."""
    if second_is_user and by_anonymous is not None:
        return _alias_to_user(user_id, by_user, by_anonymous, may_merge_identified)
    if by_user is None and by_anonymous is None:
        return Resolution(
            Outcome.CREATE, None, add_user_id=user_id, add_anonymous_id=anonymous_id, rule="new"
        )
    if by_user is None:
        assert by_anonymous is not None
        if user_id is None or by_anonymous.user_id == user_id:
            return Resolution(Outcome.EXISTING, by_anonymous.id)
        if by_anonymous.user_id is None:
            return Resolution(Outcome.LINK, by_anonymous.id, add_user_id=user_id, rule="anonymous_identified")
        # A shared device: this anonymous id already belongs to another customer. The new user
        # gets a profile of their own rather than the other customer's history.
        return Resolution(Outcome.CREATE, None, add_user_id=user_id, rule="shared_device")
    if by_anonymous is None or by_anonymous.id == by_user.id:
        if anonymous_id is not None and by_anonymous is None:
            return Resolution(Outcome.LINK, by_user.id, add_anonymous_id=anonymous_id, rule="new_device")
        return Resolution(Outcome.EXISTING, by_user.id)
    if by_anonymous.user_id is None:
        return Resolution(
            Outcome.MERGE,
            by_user.id,
            loser=by_anonymous.id,
            add_anonymous_id=anonymous_id,
            rule="anonymous_into_identified",
        )
    if may_merge_identified:
        return Resolution(
            Outcome.MERGE,
            by_user.id,
            loser=by_anonymous.id,
            add_anonymous_id=anonymous_id,
            rule="identified_into_identified",
        )
    return Resolution(Outcome.REFUSED_MERGE, by_user.id, rule="identified_merge_needs_server_key")


def _alias_to_user(
    user_id: str | None, by_user: Known | None, previous: Known, may_merge_identified: bool
) -> Resolution:
    """alias(userId, previousId = an identified customer's user id)."""
    if by_user is not None and by_user.id == previous.id:
        return Resolution(Outcome.EXISTING, previous.id)
    if not may_merge_identified:
        refused = "identified_alias_needs_server_key"
        if by_user is None:
            return Resolution(Outcome.REFUSED_MERGE, None, add_user_id=user_id, rule=refused)
        return Resolution(Outcome.REFUSED_MERGE, by_user.id, rule=refused)
    if by_user is None:
        return Resolution(Outcome.LINK, previous.id, add_alias=user_id, rule="user_alias")
    return Resolution(Outcome.MERGE, by_user.id, loser=previous.id, rule="identified_into_identified")


@dataclass(frozen=True)
class Merge:
    """Two profiles found to be one person (or a merge refused), by which rule, under which key."""

    winner_id: str
    loser_id: str | None
    rule: str
    key_id: str
    at: datetime
    merged: bool
