"""A program in a real terminal: a tmux session on a private server socket, driven by keys and
read from the screen."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Callable


class Terminal:
    def __init__(self, width: int = 140, height: int = 50) -> None:
        self.socket = f"lw-test-{uuid.uuid4().hex[:8]}"
        self.name = "t"
        self.width, self.height = width, height

    @staticmethod
    def available() -> bool:
        return shutil.which("tmux") is not None

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def start(self, command: list[str], env: dict[str, str]) -> None:
        exports = [f"{k}={v}" for k, v in env.items()]
        self._tmux(
            "new-session", "-d", "-s", self.name, "-x", str(self.width), "-y", str(self.height),
            "env", *exports, *command,
        )  # fmt: skip
        self._tmux("set-option", "-t", self.name, "remain-on-exit", "on")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.name, "-l", text)
        self._tmux("send-keys", "-t", self.name, "Enter")

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-t", self.name, "-S", "-500")

    def exited(self) -> bool:
        return self._tmux("display-message", "-p", "-t", self.name, "#{pane_dead}").strip() == "1"

    async def wait_for(self, check: Callable[[str], bool], timeout_s: float = 30) -> str:
        """The screen once ``check`` holds (polled: a terminal has no event to wait on)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if loop.time() > deadline:
                raise AssertionError(f"the screen never showed it:\n{screen}")
            await asyncio.sleep(0.1)

    async def wait_text(self, text: str, count: int = 1, timeout_s: float = 30) -> str:
        return await self.wait_for(lambda s: s.count(text) >= count, timeout_s)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)
