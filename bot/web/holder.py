"""The Bot the web app serves: built in the background at start, rebuilt on demand while the current one keeps
answering, then swapped in whole."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from bot.settings import Settings

log = logging.getLogger("bot.web")


class BotHolder:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bot: Any = None
        self.error: str | None = None
        self.building = False
        self.built_at: float | None = None
        self.last_report = ""
        self.progress: tuple[int, int] = (0, 0)  # chunks embedded / to embed, while building
        self._lock = threading.Lock()

    def start(self, background: bool = True) -> bool:
        """Build (or refresh) the index and load a Bot; False when a build is already running."""
        with self._lock:
            if self.building:
                return False
            self.building = True
        if background:
            threading.Thread(target=self._load, name="index-builder", daemon=True).start()
        else:
            self._load()
        return True

    def _load(self) -> None:
        from bot.chat import Bot
        from bot.index import build_index

        try:
            report = build_index(self.settings, show_progress=False, progress=self._progress)
            self.last_report = report.summary().splitlines()[0]
            log.warning("索引就绪：%s", self.last_report)
            bot = Bot(self.settings, build=False)
            with self._lock:
                self.bot, self.error, self.built_at = bot, None, time.time()
        except Exception as exc:  # shown by /healthz; answers keep coming from the previous index
            log.exception("index build failed")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.building = False
            self.progress = (0, 0)

    def _progress(self, done: int, total: int) -> None:
        self.progress = (done, total)

    def get(self) -> Any:
        with self._lock:
            return self.bot

    def status(self) -> dict[str, Any]:
        bot = self.get()
        done, total = self.progress
        return {"ready": bot is not None, "building": self.building, "error": self.error,
                "built_at": self.built_at, "last_build": self.last_report,
                "progress": {"done": done, "total": total},
                "chunks": len(bot.kb.chunks) if bot else 0, "cards": len(bot.kb.cards) if bot else 0}
