"""Generative answers through LangChain chat models (OpenAI-compatible endpoints, Ollama).

The model only ever sees numbered sources and the question as data. Its output is checked while it
streams: markers pointing at no source are dropped, the rest renumbered in order of first use; an
answer without a valid citation, or a failure of any kind, falls back to the extractive answer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator
from dataclasses import dataclass, field

from langchain_core.messages import HumanMessage, SystemMessage

from bot import vocab
from bot.answer import DISCLAIMER, Citation
from bot.chunk import Chunk
from bot.settings import Settings

SYSTEM_PROMPT: str = vocab.table("prompts")["system"]
CONDENSE_PROMPT: str = vocab.table("prompts")["condense"]
FALLBACK_NOTICE: str = vocab.table("messages")["llm_fallback"]
UNCITED_NOTICE: str = vocab.table("messages")["llm_uncited"]
MAX_SOURCES = 8
# ("delta", text) while the model writes; returns (answer text, citations)
Streamed = Generator[tuple[str, str], None, tuple[str, list[Citation]]]


class LLMError(Exception):
    """Any failure of the model call: time-out, refused connection, HTTP error, broken stream."""


def make_chat_model(settings: Settings):
    """The configured LangChain chat model, or None when no LLM is configured."""
    kind = settings.llm_kind
    if kind == "openai":
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        # max_tokens is a field name ChatOpenAI also accepts (its alias is max_completion_tokens, which older
        # OpenAI-compatible servers do not know)
        return ChatOpenAI(  # type: ignore[call-arg]
            base_url=settings.llm_base_url, model=settings.llm_model or "gpt-4o-mini",
            api_key=SecretStr(settings.llm_api_key or "not-needed"), timeout=settings.llm_timeout, max_retries=0,
            temperature=settings.llm_temperature, max_tokens=settings.llm_max_tokens, streaming=True,
        )
    if kind == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            base_url=settings.ollama_base_url, model=settings.llm_model or "qwen2.5:7b",
            temperature=settings.llm_temperature, num_predict=settings.llm_max_tokens,
            client_kwargs={"timeout": settings.llm_timeout},
        )
    return None


def sources_block(chunks: list[Chunk]) -> str:
    parts = []
    for n, c in enumerate(chunks, 1):
        parts.append(f"[{n}] 《{c.title}》\n{c.text}")
    return "\n\n".join(parts)


def build_messages(question: str, chunks: list[Chunk]) -> list:
    user = (f"【资料】\n{sources_block(chunks)}\n\n【问题】\n{question}\n\n"
            "请按规则作答，每句话后标注资料编号 [n]。")
    return [SystemMessage(SYSTEM_PROMPT), HumanMessage(user)]


_MARKER = re.compile(r"[\[【]\s*(\d+(?:\s*[,，、]\s*\d+)*)\s*[\]】]")
_OPEN = re.compile(r"[\[【][\d\s,，、]*$")


@dataclass
class MarkerFilter:
    """Rewrites citation markers in a stream: invalid ones dropped, valid ones renumbered 1..k."""

    n_sources: int
    mapping: dict[int, int] = field(default_factory=dict)  # source number -> shown number
    pending: str = ""
    text: str = ""

    def _sub(self, m: re.Match) -> str:
        out = []
        for num in re.findall(r"\d+", m.group(1)):
            n = int(num)
            if 1 <= n <= self.n_sources:
                shown = self.mapping.setdefault(n, len(self.mapping) + 1)
                out.append(f"[{shown}]")
        return "".join(dict.fromkeys(out))

    def feed(self, delta: str) -> str:
        self.pending += delta
        tail = _OPEN.search(self.pending)  # an unfinished marker waits for the next delta
        ready, self.pending = (
            (self.pending[: tail.start()], self.pending[tail.start() :]) if tail else (self.pending, "")
        )
        out = _MARKER.sub(self._sub, ready)
        self.text += out
        return out

    def flush(self) -> str:
        out = _MARKER.sub(self._sub, self.pending)
        out = _OPEN.sub("", out)
        self.pending = ""
        self.text += out
        return out


class LLMAnswerer:
    def __init__(self, settings: Settings, model=None) -> None:
        self.settings = settings
        self.model = model if model is not None else make_chat_model(settings)
        self.last_ttft_ms: float | None = None

    def condense(self, question: str, history: list[str]) -> str:
        """A standalone question from the conversation. Raises LLMError on any failure."""
        prompt = CONDENSE_PROMPT.format(history="\n".join(f"- {h}" for h in history[-6:]), question=question)
        try:
            msg = self.model.invoke([HumanMessage(prompt)])
        except Exception as exc:
            raise LLMError(f"{type(exc).__name__}: {exc}") from exc
        text = str(msg.content).strip().splitlines()[0].strip() if str(msg.content).strip() else ""
        if not text or len(text) > 300:
            raise LLMError("改写结果为空或过长")
        return text

    def stream(self, question: str, chunks: list[Chunk]) -> Streamed:
        """Yields ("delta", text) while the model writes. Returns (answer text, citations) at the end.
        Raises LLMError on failure or when the answer cites nothing valid."""
        chunks = chunks[:MAX_SOURCES]
        flt = MarkerFilter(len(chunks))
        deadline = time.monotonic() + self.settings.llm_timeout
        started = time.perf_counter()
        self.last_ttft_ms = None
        try:
            for part in self.model.stream(build_messages(question, chunks)):
                if time.monotonic() > deadline:
                    raise LLMError("模型响应超时")
                delta = part.content if isinstance(part.content, str) else ""
                if not delta:
                    continue
                if self.last_ttft_ms is None:
                    self.last_ttft_ms = (time.perf_counter() - started) * 1000
                out = flt.feed(delta)
                if out:
                    yield "delta", out
        except LLMError:
            raise
        except Exception as exc:  # connection refused, HTTP 429/500, dropped or malformed stream
            raise LLMError(f"{type(exc).__name__}: {exc}") from exc
        tail = flt.flush()
        if tail:
            yield "delta", tail
        if not flt.mapping:
            raise LLMError("no valid citation")
        text = flt.text.strip()
        if "不构成法律意见" not in text:
            text += "\n\n" + DISCLAIMER
            yield "delta", "\n\n" + DISCLAIMER
        citations = []
        for source_n, shown in sorted(flt.mapping.items(), key=lambda kv: kv[1]):
            c = chunks[source_n - 1]
            citations.append(Citation(shown, c.doc_id, c.title, c.url, c.chunk_id, c.text))
        return text, citations
