from typing import TypeAlias

import strawberry

from server.domain.attribution import GroupBy as DomainGroupBy
from server.domain.attribution import Model as DomainModel
from server.domain.attribution import Report

AttributionModel: TypeAlias = DomainModel
strawberry.enum(DomainModel, name="AttributionModel")
AttributionGroup: TypeAlias = DomainGroupBy
strawberry.enum(DomainGroupBy, name="AttributionGroup")


@strawberry.type(description="Credit earned by one channel, campaign or event name.")
class AttributionRow:
    key: str
    conversions: float
    value: float
    share: float
    removal_effect: float | None = strawberry.field(
        description="MARKOV only: 1 − P(conv without key)/P(conv)."
    )


@strawberry.type(description="Fractional conversions and value per key; rows sum to the totals.")
class AttributionReport:
    model: AttributionModel
    group_by: AttributionGroup
    total_conversions: float
    total_value: float
    rows: list[AttributionRow]

    @classmethod
    def of(cls, report: Report) -> "AttributionReport":
        return cls(
            model=report.model,
            group_by=report.group_by,
            total_conversions=report.total_conversions,
            total_value=report.total_value,
            rows=[
                AttributionRow(
                    key=r.key,
                    conversions=r.conversions,
                    value=r.value,
                    share=r.share,
                    removal_effect=r.removal_effect,
                )
                for r in report.rows
            ],
        )
