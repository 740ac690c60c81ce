"""The writers' lock: the balance line's audit records do not queue behind other writers."""

import asyncio

import pytest

from ledger.writers import WritersLock


async def test_an_urgent_writer_goes_before_the_ordinary_ones_already_waiting():
    lock, order = WritersLock(), []

    async def write(kind: str, name: str) -> None:
        async with getattr(lock, kind)():
            order.append(name)
            await asyncio.sleep(0)

    async with lock.ordinary():  # a top-up's transaction under way
        waiting = [asyncio.create_task(write("ordinary", f"top-up {n}")) for n in range(3)]
        await asyncio.sleep(0)
        waiting.append(asyncio.create_task(write("urgent", "audit")))
        await asyncio.sleep(0)
        assert order == []  # nobody while the transaction is under way
    await asyncio.gather(*waiting)
    assert order == ["audit", "top-up 0", "top-up 1", "top-up 2"]
    assert not lock.locked()


async def test_a_waiter_cancelled_leaves_the_lock_to_the_next():
    lock, order = WritersLock(), []

    async def write(name: str) -> None:
        async with lock.ordinary():
            order.append(name)

    async with lock.urgent():
        first = asyncio.create_task(write("first"))
        second = asyncio.create_task(write("second"))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert order == ["second"] and not lock.locked()


async def test_a_waiter_cancelled_as_its_turn_comes_passes_the_turn_on():
    lock, order = WritersLock(), []

    async def write(name: str) -> None:
        async with lock.ordinary():
            order.append(name)

    holder = lock.urgent()
    await holder.__aenter__()
    first = asyncio.create_task(write("first"))
    second = asyncio.create_task(write("second"))
    await asyncio.sleep(0)
    await holder.__aexit__(None, None, None)  # hands the lock to `first`...
    first.cancel()  # ...which is cancelled before it runs
    await asyncio.gather(first, second, return_exceptions=True)
    assert order == ["second"] and not lock.locked()
