from typing import TypeAlias

import strawberry

from server.domain.retention import DataKind as DomainDataKind
from server.services.retention import RetentionChange as DomainChange
from server.services.retention import RetentionRow as DomainRow

DataKind: TypeAlias = DomainDataKind
strawberry.enum(
    DomainDataKind,
    name="DataKind",
    description="A kind of data with its own retention period (suppressions are not one: they never expire).",
)


@strawberry.type(description="A retention period changed, and the stored documents it re-stamped.")
class RetentionChange:
    kind: DataKind
    days: int
    restamped: int = strawberry.field(description="Documents of this kind given the new expiry.")

    @classmethod
    def of(cls, change: DomainChange) -> "RetentionChange":
        return cls(kind=change.kind, days=change.days, restamped=change.restamped)


@strawberry.type(description="One retained collection of the workspace, for showing storage limitation.")
class RetentionRow:
    kind: DataKind
    collection: str
    retention_days: int
    documents: int
    expiring_within_30_days: int = strawberry.field(
        description="Documents whose expiry falls within the next 30 days (or has passed, awaiting deletion)."
    )
    oldest_age_days: int | None = strawberry.field(
        description="Whole days since the oldest document's retention started counting; null when empty."
    )

    @classmethod
    def of(cls, row: DomainRow) -> "RetentionRow":
        return cls(
            kind=row.kind,
            collection=row.collection,
            retention_days=row.days,
            documents=row.documents,
            expiring_within_30_days=row.expiring,
            oldest_age_days=row.oldest_age_days,
        )
