"""The conversation log, feedback and uploaded articles, in a real database (SQLAlchemy 2; SQLite by default,
PostgreSQL for several instances; schema by Alembic migrations in bot/migrations).

Logging never slows or breaks an answer: entries go through a bounded queue to a writer thread; a database that
is down or locked costs the entry (counted, and reported by the health check), never the reply.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (Boolean, DateTime, Float, ForeignKey, LargeBinary, String, Text, create_engine,
                        delete, func, select, update)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

log = logging.getLogger("bot.db")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    pass


class AnswerRow(Base):
    __tablename__ = "answers"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    surface: Mapped[str] = mapped_column(String(16), index=True)
    origin: Mapped[str | None] = mapped_column(String(255))
    question: Mapped[str | None] = mapped_column(Text)
    question_hash: Mapped[str] = mapped_column(String(64))
    turns: Mapped[str | None] = mapped_column(Text)  # JSON list
    answer: Mapped[str | None] = mapped_column(Text)
    citations: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of {n, doc_id, title, chunk_id}
    doc_ids: Mapped[str] = mapped_column(Text, default="")  # comma-separated, for the gap report
    refused: Mapped[bool] = mapped_column(Boolean, index=True)
    confidence: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)


class FeedbackRow(Base):
    __tablename__ = "feedback"
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    rating: Mapped[str] = mapped_column(String(8), index=True)  # "up" | "down"
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ArticleRow(Base):
    """An article added, replaced or deleted in the console: kept in the database so every instance serves it."""

    __tablename__ = "articles"
    name: Mapped[str] = mapped_column(String(120), primary_key=True)  # safe file name (never a client's path)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)  # None: deleted (a bundled article hidden)
    sha: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MetaRow(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def engine_for(url: str) -> Engine:
    """An engine; a SQLite file's folder is created on first use."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    args: dict[str, Any] = {"connect_args": {"timeout": 2}} if url.startswith("sqlite") else {
        "connect_args": {"connect_timeout": 2}, "pool_pre_ping": True}
    return create_engine(url, **args)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def new_id() -> str:
    return uuid.uuid4().hex


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Entry:
    """One answer, as the log stores it."""

    id: str
    surface: str
    question: str
    answer: str
    refused: bool
    confidence: float
    latency_ms: float
    citations: list[dict[str, Any]] = field(default_factory=list)
    turns: list[str] = field(default_factory=list)
    origin: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Store:
    """The database; created (and migrated) on first use. Every method may raise SQLAlchemy errors."""

    def __init__(self, url: str, log_questions: bool = True, retention_days: int = 0) -> None:
        self.url, self.log_questions, self.retention_days = url, log_questions, retention_days
        self.engine = engine_for(url)
        self._ready = False
        self._lock = threading.Lock()

    def ready(self) -> Engine:
        with self._lock:
            if not self._ready:
                migrate(self.engine)
                self._ready = True
        return self.engine

    def session(self) -> Session:
        return Session(self.ready())

    # -- answers and feedback -----------------------------------------------------------------------

    def write(self, entries: list[Entry]) -> None:
        keep = self.log_questions
        with self.session() as s, s.begin():
            for e in entries:
                s.add(AnswerRow(
                    id=e.id, created_at=e.created_at, surface=e.surface, origin=e.origin,
                    question=e.question if keep else None, question_hash=digest(e.question),
                    turns=json.dumps(e.turns, ensure_ascii=False) if keep else None,
                    answer=e.answer if keep else None,
                    citations=json.dumps([{k: c.get(k) for k in ("n", "doc_id", "title", "chunk_id")}
                                          for c in e.citations], ensure_ascii=False),
                    doc_ids=",".join(dict.fromkeys(str(c.get("doc_id")) for c in e.citations)),
                    refused=e.refused, confidence=e.confidence, latency_ms=e.latency_ms))
            if self.retention_days > 0:
                cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
                s.execute(delete(AnswerRow).where(AnswerRow.created_at < cutoff))

    def exists(self, answer_id: str) -> bool:
        with self.session() as s:
            return s.get(AnswerRow, answer_id) is not None

    def feedback(self, answer_id: str, rating: str, comment: str | None) -> bool:
        """Attach 👍/👎 to an answer (the latest rating counts); False for an unknown answer."""
        with self.session() as s, s.begin():
            if s.get(AnswerRow, answer_id) is None:
                return False
            row = s.get(FeedbackRow, answer_id)
            now = datetime.now(UTC)
            if row is None:
                s.add(FeedbackRow(answer_id=answer_id, rating=rating, comment=comment, created_at=now))
            else:
                row.rating, row.comment, row.created_at = rating, comment, now
            return True

    def ping(self) -> bool:
        with self.ready().connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True

    # -- uploaded articles and the knowledge-base version -----------------------------------------

    def articles(self) -> list[ArticleRow]:
        with self.session() as s:
            return list(s.scalars(select(ArticleRow).order_by(ArticleRow.name)))

    def put_article(self, name: str, content: bytes | None) -> int:
        """Add, replace (content) or delete (None) an article; returns the new knowledge-base version."""
        with self.session() as s, s.begin():
            row = s.get(ArticleRow, name)
            sha = hashlib.sha1(content).hexdigest() if content is not None else ""
            now = datetime.now(UTC)
            if row is None:
                s.add(ArticleRow(name=name, content=content, sha=sha, updated_at=now))
            else:
                row.content, row.sha, row.updated_at = content, sha, now
            return self._bump(s)

    def _bump(self, s: Session) -> int:
        row = s.get(MetaRow, "kb_version")
        version = int(row.value) + 1 if row else 1
        if row is None:
            s.add(MetaRow(key="kb_version", value=str(version)))
        else:
            s.execute(update(MetaRow).where(MetaRow.key == "kb_version").values(value=str(version)))
        return version

    def kb_version(self) -> int:
        with self.session() as s:
            row = s.get(MetaRow, "kb_version")
            return int(row.value) if row else 0

    def count_answers(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(AnswerRow)) or 0)


class AnswerLog:
    """Writes entries in the background; an answer never waits for the database."""

    def __init__(self, store: Store, capacity: int = 10000) -> None:
        self.store = store
        self.queue: queue.Queue[Entry] = queue.Queue(maxsize=capacity)
        self.pending: set[str] = set()
        self.written = self.lost = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="answer-log", daemon=True)
        self._thread.start()

    def add(self, entry: Entry) -> None:
        try:
            self.pending.add(entry.id)
            self.queue.put_nowait(entry)
        except queue.Full:
            self.pending.discard(entry.id)
            self.lost += 1

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < 100:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.store.write(batch)
                self.written += len(batch)
                self.error = None
            except Exception as exc:  # down, locked, full: the entries are lost, the answers were not
                self.lost += len(batch)
                self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                log.warning("answer log write failed: %s", self.error)
            finally:
                for e in batch:
                    self.pending.discard(e.id)

    def wait(self, answer_id: str, seconds: float = 2.0) -> None:
        """Give a just-answered entry a moment to reach the database (feedback right after the answer)."""
        deadline = time.monotonic() + seconds
        while answer_id in self.pending and time.monotonic() < deadline:
            time.sleep(0.01)

    def status(self) -> dict[str, Any]:
        try:
            ok = self.store.ping()
        except Exception as exc:
            ok, self.error = False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return {"ok": ok and self.error is None, "written": self.written, "lost": self.lost, "error": self.error,
                "queued": self.queue.qsize()}
