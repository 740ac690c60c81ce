"""Audit records are written in groups; none is lost, none is acknowledged before it is written."""

import asyncio

import pytest

from ledger.groupcommit import GroupCommit


class Store:
    """Stands in for the database: each write takes a moment, like a transaction."""

    def __init__(self, fail_when: str | None = None):
        self.writes: list[list[str]] = []
        self.fail_when = fail_when

    async def write(self, records: list[str]) -> None:
        await asyncio.sleep(0.01)
        if self.fail_when in records:
            raise OSError("disk I/O error")
        self.writes.append(records)


async def test_records_that_arrive_during_a_write_share_the_next_one():
    store = Store()
    commit = GroupCommit(store.write)
    await asyncio.gather(*(commit.add(f"r{i}") for i in range(50)))
    written = [r for batch in store.writes for r in batch]
    assert sorted(written) == sorted(f"r{i}" for i in range(50))
    assert len(store.writes) == 1  # all fifty queued before the first write began


@pytest.mark.parametrize("linger", [0.0, 0.5])
async def test_a_lingering_write_takes_the_records_that_come_meanwhile(linger):
    """Records 5 ms apart, writes of 10 ms: without lingering the first is written alone; a 500 ms
    linger takes all five into one write."""
    store = Store()
    commit = GroupCommit(store.write, linger=linger)
    added = []
    for i in range(5):
        added.append(asyncio.ensure_future(commit.add(f"r{i}")))
        await asyncio.sleep(0.005)
    await asyncio.gather(*added)
    assert [r for write in store.writes for r in write] == [f"r{i}" for i in range(5)]
    assert (store.writes[0] == ["r0"]) == (linger == 0)
    assert (len(store.writes) == 1) == (linger > 0)


async def test_a_write_cancelled_while_lingering_fails_what_waited_for_it():
    store = Store()
    commit = GroupCommit(store.write, linger=0.5)
    added = asyncio.ensure_future(commit.add("r"))
    await asyncio.sleep(0.01)  # the write is lingering
    commit._writer.cancel()  # as at a shutdown
    with pytest.raises(RuntimeError, match="cancelled"):
        await asyncio.wait_for(added, 1)
    assert store.writes == []


async def test_add_returns_only_once_its_record_is_written():
    store = Store()
    commit = GroupCommit(store.write)
    await commit.add("first")
    assert store.writes == [["first"]]
    task = asyncio.create_task(commit.add("second"))
    await asyncio.sleep(0)
    assert not task.done()
    await task
    assert store.writes[-1] == ["second"]


async def test_a_failed_write_fails_every_record_in_it_and_the_next_write_goes_on():
    store = Store(fail_when="bad")
    commit = GroupCommit(store.write)
    await commit.add("warm")
    results = await asyncio.gather(commit.add("a"), commit.add("bad"), return_exceptions=True)
    assert [type(r) for r in results] == [OSError, OSError]
    await commit.add("after")
    assert store.writes == [["warm"], ["after"]]


async def test_a_caller_who_hangs_up_still_leaves_its_record():
    store = Store()
    commit = GroupCommit(store.write)
    task = asyncio.create_task(commit.add("hung up"))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await commit.drain()
    assert store.writes == [["hung up"]]
