from datetime import datetime

import strawberry

from server.domain.access import ApiKeyRecord
from server.graphql.types.enums import Role


@strawberry.type(description="An API key; its secret is never shown again after creation.")
class ApiKey:
    id: strawberry.ID
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> "ApiKey":
        return cls(
            id=strawberry.ID(record.id),
            role=record.role,
            name=record.name,
            created_at=record.created_at,
            revoked_at=record.revoked_at,
        )


@strawberry.type(description="A newly created key: `secret` is shown this once only.")
class NewApiKey:
    id: strawberry.ID
    role: Role
    name: str
    secret: str
