"""Table sweeps give the event loop a turn and see values as they are when visited."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from streams import state


async def _sweep(table) -> list:
    return [kv async for kv in state.entries(table)]


def test_entries_visits_every_key_with_a_value():
    table = SimpleNamespace(data={"a": 1, "b": None, "c": 3})
    assert asyncio.run(_sweep(table)) == [("a", 1), ("c", 3)]


def test_entries_lets_other_tasks_run_between_slices_and_sees_their_writes():
    n = 3 * state.SLICE
    table = SimpleNamespace(data={i: "old" for i in range(n)})

    async def main():
        async def writer():  # an agent updating and deleting keys mid-sweep
            table.data[n - 1] = "new"
            del table.data[n - 2]

        seen = []
        task = None
        async for key, value in state.entries(table):
            if task is None:
                task = asyncio.get_running_loop().create_task(writer())
            seen.append((key, value))
        await task
        return seen

    seen = asyncio.run(main())
    assert len(seen) == n - 1
    assert seen[-1] == (n - 1, "new")
    assert (n - 2, "old") not in seen
