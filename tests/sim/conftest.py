import pytest
import trio


@pytest.fixture
async def watchdog(nursery):
    """Turn a hang under autojump_clock into a failure (virtual time runs away otherwise)."""

    async def watch() -> None:
        await trio.sleep(20_000)
        raise TimeoutError("virtual-time watchdog: the test hung")

    nursery.start_soon(watch)
