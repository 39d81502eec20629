"""Generate the synchronous client (``_sync.py``) from the asynchronous one (``_async.py``).

    python scripts/unasync_client.py          # write src/loopwright/client/_sync.py
    python scripts/unasync_client.py --check  # exit 1 if it is out of date

The async source is written so that plain replacements make it synchronous (the approach of
httpcore's ``unasync``): one source of truth for both clients' behaviour and types.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src/loopwright/client/_async.py"
TARGET = ROOT / "src/loopwright/client/_sync.py"

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
HEADER = '''"""The synchronous client (``Client``): GENERATED from ``_async.py`` by
``scripts/unasync_client.py`` -- do not edit; edit ``_async.py`` and run the script."""
'''


def generate() -> str:
    text = SOURCE.read_text()
    body = text.split('"""', 2)[2]  # drop the module docstring
    for old, new in REPLACEMENTS:
        body = body.replace(old, new)
    body = re.sub(r"Awaitable\[(\w+\[\w+\])\]", r"\1", body)
    body = body.replace(", Awaitable,", ",")
    ruff = str(Path(sys.executable).parent / "ruff")
    fixes = ["check", "--fix", "--unsafe-fixes", "--select", "I,UP028", "--exit-zero", "--quiet"]
    text = HEADER + body
    for command in (fixes, ["format"]):
        text = subprocess.run(
            [ruff, *command, "--stdin-filename", str(TARGET), "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return text


def main() -> int:
    text = generate()
    if "--check" in sys.argv:
        if TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python scripts/unasync_client.py")
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
