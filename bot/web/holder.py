"""The Bot the web app serves: built in the background at start, rebuilt on demand while the current one keeps
answering, then swapped in whole.

With a database attached (bot/kb.py), the build reads the articles uploaded, replaced or deleted in the console
from it, and a watcher thread rebuilds whenever the database's knowledge-base version is not the one served:
an article changed through one instance is served by every instance sharing the database within
BOT_KB_POLL_SECONDS plus one (incremental) build.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
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
        self.phase = ""
        self.progress: tuple[int, int] = (0, 0)  # chunks embedded / to embed, while building
        self.files: Any = None  # bot.kb.ArticleFiles, once a database is attached
        self.version: int | None = None  # the knowledge-base version the served Bot was built from
        self.failed_version: int | None = None  # a version whose build failed: not retried by the watcher
        self.skipped: list[Any] = []  # files the last build could not read (bot.ingest.Skipped)
        self.builds = 0
        self._dirty = False
        self._lock = threading.Lock()

    def attach(self, store: Any) -> None:
        """Serve the database's articles too, and follow its knowledge-base version."""
        from bot.kb import ArticleFiles

        self.files = ArticleFiles(self.settings, store)
        ref = weakref.ref(self)
        interval = max(0.2, self.settings.kb_poll_seconds)
        threading.Thread(target=_watch, args=(ref, interval), name="kb-watch", daemon=True).start()

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

    def request(self) -> bool:
        """Rebuild soon: now, or as soon as the running build ends (it may have read the articles already).
        True when a build started now."""
        with self._lock:
            if self.building:
                self._dirty = True
                return False
        return self.start(background=True)

    def _load(self) -> None:
        try:
            while True:
                self._build_once()
                with self._lock:
                    if not self._dirty:
                        break
                    self._dirty = False
        finally:
            with self._lock:
                self.building = False
            self.progress, self.phase = (0, 0), ""

    def _build_once(self) -> None:
        from bot.chat import Bot
        from bot.index import build_index

        version: int | None = None
        try:
            self.phase = "读取文章"
            settings, version = self.files.prepare() if self.files else (self.settings, None)
            self.phase = "建立索引"
            report = build_index(settings, show_progress=False, progress=self._progress)
            self.last_report = report.summary().splitlines()[0]
            self.skipped = list(report.skipped)
            log.warning("索引就绪：%s", self.last_report)
            self.phase = "加载"
            bot = Bot(settings, build=False)
            with self._lock:
                self.bot, self.error, self.built_at = bot, None, time.time()
                self.version, self.failed_version = version, None
                self.builds += 1
        except Exception as exc:  # shown by /healthz; answers keep coming from the previous index
            log.exception("index build failed")
            self.error = f"{type(exc).__name__}: {exc}"
            self.failed_version = version

    def _progress(self, done: int, total: int) -> None:
        self.progress = (done, total)

    def poll(self) -> None:
        """One look at the database's knowledge-base version; rebuild when it is not the one served."""
        if self.files is None or self.building or (self.bot is None and self.error is None):
            return  # the first build has not finished yet: it reads the newest version itself
        try:
            current = self.files.store.kb_version()
        except Exception:
            return  # the database is down: keep serving what we have
        if current != self.version and current != self.failed_version:
            log.warning("知识库版本 %s → %s：重建索引", self.version, current)
            self.request()

    def get(self) -> Any:
        with self._lock:
            return self.bot

    def status(self) -> dict[str, Any]:
        bot = self.get()
        done, total = self.progress
        return {"ready": bot is not None, "building": self.building, "error": self.error,
                "built_at": self.built_at, "last_build": self.last_report, "phase": self.phase,
                "progress": {"done": done, "total": total}, "kb_version": self.version, "builds": self.builds,
                "chunks": len(bot.kb.chunks) if bot else 0, "cards": len(bot.kb.cards) if bot else 0}


def _watch(ref: weakref.ReferenceType[BotHolder], interval: float) -> None:
    """The knowledge-base watcher; ends when its holder is gone."""
    while True:
        time.sleep(interval)
        holder = ref()
        if holder is None:
            return
        try:
            holder.poll()
        except Exception:  # never let the watcher die
            log.exception("knowledge-base watch failed")
        del holder
