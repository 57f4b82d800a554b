"""Command line: `bot index`, `bot ask`. JSON goes to stdout, logs and progress bars to stderr."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="增值电信业务许可问答机器人")
err = typer.echo


def _settings(ctx: typer.Context):
    return ctx.obj["settings"]


@app.callback()
def main_options(
    ctx: typer.Context,
    index_dir: Annotated[Optional[Path], typer.Option("--index-dir", help="索引目录（默认 index/，或 BOT_INDEX_DIR）")] = None,
    corpus_dir: Annotated[Optional[Path], typer.Option("--corpus-dir", help="语料目录（默认 corpus/）")] = None,
):
    from bot.settings import get_settings

    overrides = {}
    if index_dir:
        overrides["index_dir"] = index_dir.resolve()
    if corpus_dir:
        overrides["corpus_dir"] = corpus_dir.resolve()
    ctx.obj = {"settings": get_settings(**overrides)}


@app.command()
def index(
    ctx: typer.Context,
    paths: Annotated[Optional[list[Path]], typer.Argument(help="除 corpus/ 外要一并索引的文件或目录")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="不显示进度条")] = False,
):
    """Index corpus/ plus any extra paths; incremental by content hash."""
    from bot.index import build_index

    report = build_index(_settings(ctx), [p.resolve() for p in paths or []], show_progress=not quiet)
    err(report.summary(), err=True)


def _bot(ctx: typer.Context, retriever: str | None = None):
    from bot.chat import Bot

    return Bot(_settings(ctx), retriever=retriever)


def _print_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[Optional[str], typer.Argument(help="问题")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出一个 JSON 对象")] = False,
    jsonl: Annotated[Optional[Path], typer.Option("--jsonl", help="每行一个问题（文本或 JSON）的文件；- 为标准输入")] = None,
    turn: Annotated[Optional[list[str]], typer.Option("--turn", help="此前的对话轮次（可重复，按先后顺序）")] = None,
    retriever: Annotated[Optional[str], typer.Option("--retriever", help="bm25 | dense | hybrid")] = None,
):
    """Answer a question with cited sources."""
    from bot.questions import BadQuestion

    if jsonl is None and question is None:
        err("请提供问题，或用 --jsonl FILE 批量提问。", err=True)
        raise typer.Exit(2)
    bot = _bot(ctx, retriever)
    if jsonl is not None:
        _ask_jsonl(bot, jsonl)
        return
    try:
        ans = bot.ask(question, list(turn or []) + [question] if turn else None)
    except BadQuestion as exc:
        if as_json:
            _print_json({"question": question, "error": str(exc)})
        else:
            err(str(exc), err=True)
        raise typer.Exit(1)
    if as_json:
        _print_json(ans.to_dict())
        return
    typer.echo(ans.answer)
    if ans.citations:
        typer.echo("\n来源：")
        for c in ans.citations:
            typer.echo(f"[{c.n}] {c.title}  {c.url}")
            quote = c.text.replace("\n", " ")
            typer.echo(f"    “{quote[:160]}{'…' if len(quote) > 160 else ''}”")


def _ask_jsonl(bot, path: Path) -> None:
    """One JSON object out per line in, in order; a bad line gets an error object, never a stop."""
    from bot.questions import BadQuestion

    stream = sys.stdin if str(path) == "-" else path.open(encoding="utf-8", errors="replace")
    with stream:
        for raw in stream:
            line = raw.rstrip("\n").rstrip("\r")
            question: object = line
            turns = None
            if line.lstrip().startswith("{"):
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    obj = None
                if isinstance(obj, dict):
                    question = obj.get("question")
                    turns = obj.get("turns") if isinstance(obj.get("turns"), list) else None
                    if question is None and turns:
                        question = turns[-1]
            try:
                _print_json(bot.ask(question, turns).to_dict())
            except BadQuestion as exc:
                _print_json({"question": question, "error": str(exc)})
            except Exception as exc:  # one bad line must not end the batch
                _print_json({"question": question, "error": f"处理失败：{type(exc).__name__}"})


def main() -> None:
    app()


if __name__ == "__main__":
    main()
