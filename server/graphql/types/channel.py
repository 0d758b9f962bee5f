import strawberry

from server.services.channels import CustomChannelReport


@strawberry.type(
    description="Channels outside the built-in list, kept under their own slug, up to a cap per workspace."
)
class CustomChannels:
    names: list[str] = strawberry.field(description="The workspace's custom channels, sorted.")
    cap: int = strawberry.field(description="How many custom channels a workspace keeps.")
    fallback: str = strawberry.field(
        description="The channel events are stored under when theirs is new past the cap, or has no "
        "usable character."
    )
    fallback_events: int = strawberry.field(description="Events stored under the fallback channel.")

    @classmethod
    def of(cls, report: CustomChannelReport) -> "CustomChannels":
        return cls(
            names=list(report.names),
            cap=report.cap,
            fallback=report.fallback,
            fallback_events=report.fallback_events,
        )
