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
import re
import statistics
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

log = logging.getLogger("bot.db")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SURFACES = ("page", "widget", "api", "chat", "v1", "reply", "assess")
MIGRATION_LOCK = 740016  # a PostgreSQL advisory-lock key: instances starting together migrate one at a time


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
    topic: Mapped[str | None] = mapped_column(String(32), index=True)  # bot/data/topics.toml, kept without text


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
    """An engine; a SQLite file's folder is created on first use. Connecting gives up after 2 seconds, and so
    does waiting for a SQLite lock: a log entry is not worth more."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 2})

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:  # SQLite enforces foreign keys only when asked
            conn.execute("PRAGMA foreign_keys=ON")

        return engine
    return create_engine(url, connect_args={"connect_timeout": 2}, pool_pre_ping=True, pool_size=5, max_overflow=5)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (one instance at a time on PostgreSQL)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def new_id() -> str:
    return uuid.uuid4().hex


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def topic_of(text: str) -> str:
    """The dashboard's topic of a question (bot/data/topics.toml), 其他 when none matches."""
    from bot import vocab
    from bot.normalize import for_matching

    norm = for_matching(text)
    for entry in vocab.table("topics")["topic"]:
        if re.search(entry["pattern"], norm):
            return str(entry["label"])
    return "其他"


def zone(name: str) -> tzinfo:
    """The operators' time zone (days on the dashboard); a fixed UTC+8 when the system has no zone data."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:
        return timezone(timedelta(hours=8))


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes: they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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


@dataclass
class Filters:
    """What the console's conversation list asks for; every field optional."""

    q: str = ""  # words in the question or the answer
    refused: bool | None = None
    low: bool = False  # answered with a confidence under the threshold
    rating: str | None = None  # "up" | "down" | "none"
    surface: str | None = None
    since: date | None = None  # local dates, both ends included
    until: date | None = None
    limit: int = 50
    offset: int = 0


class Store:
    """The database; created (and migrated) on first use. Every method may raise SQLAlchemy errors."""

    def __init__(self, url: str, log_questions: bool = True, retention_days: int = 0, low_confidence: float = 0.5,
                 tz: str = "Asia/Shanghai") -> None:
        self.url, self.log_questions, self.retention_days = url, log_questions, retention_days
        self.low_confidence = low_confidence
        self.tz = zone(tz)
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
                    id=e.id, created_at=e.created_at, surface=e.surface, origin=(e.origin or None) and e.origin[:255],
                    question=e.question if keep else None, question_hash=digest(e.question),
                    turns=json.dumps(e.turns, ensure_ascii=False) if keep else None,
                    answer=e.answer if keep else None,
                    citations=json.dumps([{k: c.get(k) for k in ("n", "doc_id", "title", "chunk_id")}
                                          for c in e.citations], ensure_ascii=False),
                    doc_ids=",".join(dict.fromkeys(str(c.get("doc_id")) for c in e.citations)),
                    refused=e.refused, confidence=e.confidence, latency_ms=e.latency_ms, topic=topic_of(e.question)))
            self._purge(s)

    def purge(self) -> int:
        """Delete answers (and their feedback) older than BOT_LOG_RETENTION_DAYS; the number deleted."""
        with self.session() as s, s.begin():
            return self._purge(s)

    def _purge(self, s: Session) -> int:
        if self.retention_days <= 0:
            return 0
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        old = select(AnswerRow.id).where(AnswerRow.created_at < cutoff)
        s.execute(delete(FeedbackRow).where(FeedbackRow.answer_id.in_(old)))
        return int(s.execute(delete(AnswerRow).where(AnswerRow.created_at < cutoff)).rowcount or 0)  # type: ignore[attr-defined]

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

    # -- reading the log (the console) ----------------------------------------------------------------

    def _bounds(self, since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
        start = datetime.combine(since, datetime.min.time(), self.tz).astimezone(UTC) if since else None
        end = (datetime.combine(until + timedelta(days=1), datetime.min.time(), self.tz).astimezone(UTC)
               if until else None)
        return start, end

    def conversations(self, f: Filters) -> list[dict[str, Any]]:
        """Logged answers, newest first, with their feedback (the console's list and its CSV)."""
        stmt = select(AnswerRow, FeedbackRow).outerjoin(FeedbackRow, FeedbackRow.answer_id == AnswerRow.id)
        if f.q.strip():
            like = "%" + f.q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(or_(AnswerRow.question.like(like, escape="\\"), AnswerRow.answer.like(like, escape="\\")))
        if f.refused is not None:
            stmt = stmt.where(AnswerRow.refused.is_(f.refused))
        if f.low:
            stmt = stmt.where(AnswerRow.refused.is_(False), AnswerRow.confidence < self.low_confidence)
        if f.rating in {"up", "down"}:
            stmt = stmt.where(FeedbackRow.rating == f.rating)
        elif f.rating == "none":
            stmt = stmt.where(FeedbackRow.answer_id.is_(None))
        if f.surface:
            stmt = stmt.where(AnswerRow.surface == f.surface)
        start, end = self._bounds(f.since, f.until)
        if start:
            stmt = stmt.where(AnswerRow.created_at >= start)
        if end:
            stmt = stmt.where(AnswerRow.created_at < end)
        stmt = stmt.order_by(AnswerRow.created_at.desc(), AnswerRow.id).limit(f.limit).offset(f.offset)
        with self.session() as s:
            return [self._item(a, fb) for a, fb in s.execute(stmt)]

    def conversation(self, answer_id: str) -> dict[str, Any] | None:
        """One answer in full: the list's fields plus turns, citations, latency, origin."""
        with self.session() as s:
            a = s.get(AnswerRow, answer_id)
            if a is None:
                return None
            item = self._item(a, s.get(FeedbackRow, answer_id))
            item.update(turns=json.loads(a.turns) if a.turns else [], citations=json.loads(a.citations or "[]"),
                        latency_ms=a.latency_ms, origin=a.origin, topic=a.topic, question_hash=a.question_hash)
            return item

    @staticmethod
    def _item(a: AnswerRow, fb: FeedbackRow | None) -> dict[str, Any]:
        return {"answer_id": a.id, "question": a.question, "answer": a.answer, "refused": bool(a.refused),
                "confidence": round(float(a.confidence), 3), "surface": a.surface,
                "created_at": aware(a.created_at).isoformat(),
                "feedback": {"rating": fb.rating, "comment": fb.comment} if fb else None}

    def stats(self, days: int = 30) -> dict[str, Any]:
        """The dashboard: per local day questions, refusals, 👎 and p50 latency; topics; surfaces; articles."""
        days = max(1, min(days, 366))
        today = datetime.now(self.tz).date()
        first = today - timedelta(days=days - 1)
        start, _ = self._bounds(first, None)
        stmt = (select(AnswerRow.created_at, AnswerRow.surface, AnswerRow.refused, AnswerRow.confidence,
                       AnswerRow.latency_ms, AnswerRow.topic, AnswerRow.citations, FeedbackRow.rating)
                .outerjoin(FeedbackRow, FeedbackRow.answer_id == AnswerRow.id).where(AnswerRow.created_at >= start))
        per_day: dict[date, dict[str, Any]] = {first + timedelta(days=i): {"count": 0, "refused": 0, "down": 0,
                                                                           "rated": 0, "lat": []}
                                               for i in range(days)}
        surfaces: Counter[str] = Counter()
        topics: Counter[str] = Counter()
        articles: Counter[tuple[str, str]] = Counter()
        low = 0
        with self.session() as s:
            rows = s.execute(stmt).all()
        for created, surface, refused, confidence, latency, topic, citations, rating in rows:
            day = per_day.get(aware(created).astimezone(self.tz).date())
            if day is None:
                continue
            day["count"] += 1
            day["refused"] += bool(refused)
            day["rated"] += rating is not None
            day["down"] += rating == "down"
            if latency and latency > 0 and surface not in {"reply", "assess"}:
                day["lat"].append(latency)
            low += (not refused) and confidence < self.low_confidence
            surfaces[surface] += 1
            topics[topic or "其他"] += 1
            cited = dict.fromkeys((c.get("doc_id"), c.get("title")) for c in json.loads(citations or "[]"))
            for doc_id, title in cited:
                articles[(str(doc_id), str(title))] += 1
        total = sum(d["count"] for d in per_day.values())
        refused_n = sum(d["refused"] for d in per_day.values())
        rated = sum(d["rated"] for d in per_day.values())
        down = sum(d["down"] for d in per_day.values())
        lat = [v for d in per_day.values() for v in d["lat"]]
        return {
            "days": days, "total": total, "refused": refused_n, "low_confidence": low, "rated": rated, "down": down,
            "refusal_rate": round(refused_n / total, 3) if total else 0.0,
            "down_rate": round(down / rated, 3) if rated else 0.0,
            "p50_latency_ms": round(statistics.median(lat), 1) if lat else 0.0,
            "per_day": [{"date": d.isoformat(), "count": v["count"], "refused": v["refused"], "down": v["down"],
                         "rated": v["rated"],
                         "refusal_rate": round(v["refused"] / v["count"], 3) if v["count"] else 0.0,
                         "down_rate": round(v["down"] / v["rated"], 3) if v["rated"] else 0.0,
                         "p50_latency_ms": round(statistics.median(v["lat"]), 1) if v["lat"] else 0.0}
                        for d, v in sorted(per_day.items())],
            "topics": [{"topic": t, "count": n} for t, n in topics.most_common(10)],
            "surfaces": [{"surface": k, "count": n} for k, n in surfaces.most_common()],
            "articles": [{"doc_id": d, "title": t, "count": n} for (d, t), n in articles.most_common(10)],
        }

    def gap_rows(self, days: int = 30) -> list[dict[str, Any]]:
        """Candidates for the coverage-gap report: refused, low-confidence and 👎 answers with their question's
        text (bot/gaps.py decides which refusals were in the domain)."""
        start = datetime.now(UTC) - timedelta(days=max(1, days))
        stmt = (select(AnswerRow.id, AnswerRow.question, AnswerRow.refused, AnswerRow.confidence, AnswerRow.doc_ids,
                       FeedbackRow.rating)
                .outerjoin(FeedbackRow, FeedbackRow.answer_id == AnswerRow.id)
                .where(AnswerRow.created_at >= start, AnswerRow.question.is_not(None),
                       AnswerRow.surface.not_in(["reply", "assess"]),
                       or_(AnswerRow.refused.is_(True), AnswerRow.confidence < self.low_confidence,
                           FeedbackRow.rating == "down"))
                .order_by(AnswerRow.created_at.desc()).limit(5000))
        with self.session() as s:
            return [{"answer_id": i, "question": q, "refused": bool(r), "confidence": float(c),
                     "doc_ids": [d for d in (ds or "").split(",") if d], "down": rating == "down"}
                    for i, q, r, c, ds, rating in s.execute(stmt)]

    # -- uploaded articles and the knowledge-base version -----------------------------------------

    def articles(self) -> list[ArticleRow]:
        with self.session() as s:
            return list(s.scalars(select(ArticleRow).order_by(ArticleRow.name)))

    def put_article(self, name: str, content: bytes | None) -> int:
        """Add, replace (content) or delete (None) an article; returns the new knowledge-base version."""
        return self.put_articles({name: content})

    def put_articles(self, changes: dict[str, bytes | None]) -> int:
        """Several article changes in one transaction and one knowledge-base version."""
        with self.session() as s, s.begin():
            now = datetime.now(UTC)
            for name, content in changes.items():
                row = s.get(ArticleRow, name)
                sha = hashlib.sha1(content).hexdigest() if content is not None else ""
                if row is None:
                    s.add(ArticleRow(name=name, content=content, sha=sha, updated_at=now))
                else:
                    row.content, row.sha, row.updated_at = content, sha, now
            return self._bump(s)

    def _bump(self, s: Session) -> int:
        row = s.get(MetaRow, "kb_version", with_for_update=True)
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


def _short(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {(lines[0] if lines else '')[:200]}"


class AnswerLog:
    """Writes entries in the background; an answer never waits for the database."""

    PING_EVERY = 5.0  # seconds a health-check ping is reused: /healthz must not wait on a dead database each time

    def __init__(self, store: Store, capacity: int = 10000) -> None:
        self.store = store
        self.queue: queue.Queue[Entry] = queue.Queue(maxsize=capacity)
        self.pending: set[str] = set()
        self.written = self.lost = 0
        self.error: str | None = None
        self._pinged: tuple[float, bool, str | None] = (0.0, False, None)
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
        if self.store.retention_days > 0:
            try:  # rows past the retention period go at start too, not only with the next write
                self.store.purge()
            except Exception as exc:
                log.warning("retention purge failed: %s", _short(exc))
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
                self._pinged = (time.monotonic(), True, None)  # a write is as good as a ping
            except Exception as exc:  # down, locked, full: the entries are lost, the answers were not
                self.lost += len(batch)
                self.error = _short(exc)
                log.warning("answer log write failed: %s", self.error)
            finally:
                for e in batch:
                    self.pending.discard(e.id)

    def wait(self, answer_id: str, seconds: float = 2.0) -> None:
        """Give a just-answered entry a moment to reach the database (feedback right after the answer)."""
        deadline = time.monotonic() + seconds
        while answer_id in self.pending and time.monotonic() < deadline:
            time.sleep(0.01)

    def flush(self, seconds: float = 5.0) -> None:
        """Wait until every queued entry has been written or lost (tests, benchmarks, shutdown)."""
        deadline = time.monotonic() + seconds
        while (self.pending or not self.queue.empty()) and time.monotonic() < deadline:
            time.sleep(0.01)

    def status(self) -> dict[str, Any]:
        at, ok, error = self._pinged
        if time.monotonic() - at > self.PING_EVERY:
            try:
                ok, error = self.store.ping(), None
            except Exception as exc:
                ok, error = False, _short(exc)
            self._pinged = (time.monotonic(), ok, error)
        error = error or self.error
        return {"ok": ok and self.error is None, "written": self.written, "lost": self.lost, "error": error,
                "queued": self.queue.qsize()}
