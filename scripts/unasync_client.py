"""Generate the synchronous client (``_sync*.py``) from the asynchronous one (``_async*.py``).

    python scripts/unasync_client.py          # write src/loopwright/client/_sync*.py
    python scripts/unasync_client.py --check  # exit 1 if one is out of date

The async source is written so that plain replacements make it synchronous (the approach of
httpcore's ``unasync``): one source of truth for both clients' behaviour and types.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "src/loopwright/client"

REPLACEMENTS = [
    ("async def ", "def "),
    ("async for ", "for "),
    ("async with ", "with "),
    ("await ", ""),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    (".aiter_lines()", ".iter_lines()"),
    (".aread()", ".read()"),
    (".aclose()", ".close()"),
    ("asyncio.sleep", "time.sleep"),
    ("import asyncio", "import time"),
    ("AsyncIterator", "Iterator"),
    ("AsyncBaseTransport", "BaseTransport"),
    ("Async", ""),
    ("_async", "_sync"),
]
HEADER = '''"""GENERATED from ``{source}`` by ``scripts/unasync_client.py``: do not edit; edit
``{source}`` and run the script. (The synchronous twin of the async client.)"""
'''


def pairs() -> list[tuple[Path, Path]]:
    return [
        (source, source.with_name(source.name.replace("_async", "_sync")))
        for source in sorted(CLIENT.glob("_async*.py"))
    ]


def generate(source: Path, target: Path) -> str:
    text = source.read_text()
    body = text.split('"""', 2)[2]  # drop the module docstring
    for old, new in REPLACEMENTS:
        body = body.replace(old, new)
    body = re.sub(r"Awaitable\[(\w+\[\w+\])\]", r"\1", body)
    body = body.replace(", Awaitable,", ",")
    ruff = str(Path(sys.executable).parent / "ruff")
    fixes = ["check", "--fix", "--unsafe-fixes", "--select", "I,UP028", "--exit-zero", "--quiet"]
    text = HEADER.format(source=source.name) + body
    for command in (fixes, ["format"]):
        text = subprocess.run(
            [ruff, *command, "--stdin-filename", str(target), "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return text


def main() -> int:
    stale = 0
    for source, target in pairs():
        text = generate(source, target)
        if "--check" not in sys.argv:
            target.write_text(text)
        elif not target.exists() or target.read_text() != text:
            print(f"{target} is out of date: run python scripts/unasync_client.py")
            stale += 1
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
