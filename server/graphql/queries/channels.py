import strawberry

from server.domain.access import Role
from server.graphql.context import Info
from server.graphql.permissions import allow
from server.graphql.types.channel import CustomChannels


@strawberry.type
class ChannelQueries:
    @strawberry.field(
        description="The workspace's custom channels (named in `context.channel`, outside the built-in "
        "list), the cap on them, and how many events went to the fallback channel.",
        extensions=allow(Role.ADMIN),
    )
    async def custom_channels(self, info: Info) -> CustomChannels:
        return CustomChannels.of(await info.context.services.channels.report(info.context.principal))
