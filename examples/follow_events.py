"""Follow a store's events as they happen, resuming after a dropped connection; stop at the
first event of a given type (or never).

    LOOPWRIGHT_KEY=<key> python examples/follow_events.py [--until run.completed]
"""

from __future__ import annotations

import argparse
import asyncio

from loopwright.client import AsyncClient


async def main(until: str | None) -> None:
    async with AsyncClient() as lw:
        head = await lw.events.head()  # from now on; pass after=0 for the store's whole log
        print("following", flush=True)
        async for event in lw.events.stream(after=head):
            seq = "-" if event.seq is None else event.seq
            print(f"{seq} {event.type} run={event.run_id}", flush=True)
            if event.type == until:
                return


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--until", help="stop after the first event of this type")
    asyncio.run(main(parser.parse_args().until))
