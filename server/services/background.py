"""Background work of the server process (trigger evaluation, the retention sweep): each item that
fails is logged by class and counted, and the loop itself runs under a supervisor that restarts it
should it ever end — so no single bad item, and no bug, stops it for good.

Logs name the error's class only: a message may carry a URL, a document or an identifier.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from server.metrics import BACKGROUND_FAILURES, BACKGROUND_RESTARTS

logger = logging.getLogger("granular.background")

RESTART_DELAY_SECONDS = 5.0


def gave_up(task: str, error: Exception) -> None:
    """One item (or pass) of `task` failed: count it by class, log the class, and go on."""
    BACKGROUND_FAILURES.labels(task, type(error).__name__).inc()
    logger.warning("%s: an item failed with %s; going on", task, type(error).__name__)


async def supervise(
    task: str, run: Callable[[], Awaitable[None]], *, restart_delay: float = RESTART_DELAY_SECONDS
) -> None:
    """Run `run` for as long as the server lives, restarting it after `restart_delay` whenever it
    ends — by an exception or by returning. Only cancellation (shutdown) stops it."""
    while True:
        try:
            await run()
            logger.error("%s ended; restarting it", task)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # whatever killed it, the work must go on
            logger.error("%s died of %s; restarting it", task, type(error).__name__)
        BACKGROUND_RESTARTS.labels(task).inc()
        await asyncio.sleep(restart_delay)
