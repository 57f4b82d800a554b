"""Command line: `bot index`, `bot ask`, `bot gaps` and more. JSON goes to stdout, logs and progress bars to stderr."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="增值电信业务许可问答机器人")
err = typer.echo


def _settings(ctx: typer.Context):
    return ctx.obj["settings"]


def _read(load, what: str):
    """Run a file reader; an unreadable or malformed file ends the command with a clear message, exit code 2."""
    try:
        return load()
    except (OSError, ValueError) as exc:
        err(f"无法读取{what}：{getattr(exc, 'strerror', None) or exc}", err=True)
        raise typer.Exit(2) from None


@app.callback()
def main_options(
    ctx: typer.Context,
    index_dir: Annotated[Path | None, typer.Option("--index-dir", help="索引目录（默认 index/，或 BOT_INDEX_DIR）")] = None,
    corpus_dir: Annotated[Path | None, typer.Option("--corpus-dir", help="语料目录（默认 corpus/）")] = None,
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
    paths: Annotated[list[Path] | None, typer.Argument(help="除 corpus/ 外要一并索引的文件或目录")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="不显示进度条")] = False,
    sentences: Annotated[bool, typer.Option("--sentences", help="同时预先计算各句向量（回答时用；否则首次用到时再算并缓存）")] = False,
):
    """Index corpus/ plus any extra paths; incremental by content hash."""
    from bot.index import build_index

    report = build_index(_settings(ctx), [p.resolve() for p in paths or []], show_progress=not quiet)
    err(report.summary(), err=True)
    if sentences:
        from bot.chunk import candidate_sentences
        from bot.retrieve import KnowledgeBase

        kb = KnowledgeBase(_settings(ctx))
        texts = list(dict.fromkeys(s for c in kb.chunks.values() for s in candidate_sentences(c.text)))
        before = kb.sentences.embedded
        kb.sentence_vectors(texts)
        err(f"句向量：共 {len(texts)} 句，新计算 {kb.sentences.embedded - before} 句", err=True)


def _bot(ctx: typer.Context, retriever: str | None = None):
    from bot.chat import Bot

    return Bot(_settings(ctx), retriever=retriever)


def _print_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str | None, typer.Argument(help="问题")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出一个 JSON 对象")] = False,
    jsonl: Annotated[Path | None, typer.Option("--jsonl", help="每行一个问题（文本或 JSON）的文件；- 为标准输入")] = None,
    turn: Annotated[list[str] | None, typer.Option("--turn", help="此前的对话轮次（可重复，按先后顺序）")] = None,
    retriever: Annotated[str | None, typer.Option("--retriever", help="bm25 | dense | hybrid")] = None,
):
    """Answer a question with cited sources."""
    from bot.query import BadQuestion

    if jsonl is None and question is None:
        err("请提供问题，或用 --jsonl FILE 批量提问。", err=True)
        raise typer.Exit(2)
    bot = _bot(ctx, retriever)
    if jsonl is not None:
        _ask_jsonl(bot, jsonl)
        return
    assert question is not None  # checked above
    try:
        ans = bot.ask(question, list(turn or []) + [question] if turn else None)
    except BadQuestion as exc:
        if as_json:
            _print_json({"question": question, "error": str(exc)})
        else:
            err(str(exc), err=True)
        raise typer.Exit(1) from None
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
    from bot.query import BadQuestion

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


@app.command()
def reply(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="客户消息文本文件；- 为标准输入")],
    tone: Annotated[str, typer.Option("--tone", help="正式 | 简洁")] = "正式",
    no_sources: Annotated[bool, typer.Option("--no-sources", help="回复中不附来源")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（回复、客户信息、逐题答案）")] = False,
):
    """Compose a reply to a client's pasted message: every question answered, sources as footnotes."""
    from bot.query import BadQuestion
    from bot.reply import compose

    message = _read(lambda: sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8", errors="replace"),
                    f" {file}")
    bot = _bot(ctx)
    try:
        result = compose(bot, message, tone=tone, sources=not no_sources)
    except BadQuestion as exc:
        err(str(exc), err=True)
        raise typer.Exit(1) from None
    if as_json:
        _print_json(result.to_dict())
    else:
        typer.echo(result.text)


@app.command()
def assess(
    ctx: typer.Context,
    description: Annotated[str, typer.Argument(help="业务描述，例如：杭州SaaS公司，做商家入驻的平台，全国用户")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（facts、items、capital、foreign、answer、citations）")] = False,
):
    """Licence self-assessment: which licences, filings and approvals a business needs, and from whom."""
    from bot.assess import assess as run
    from bot.facts import from_text
    from bot.query import BadQuestion, check

    bot = _bot(ctx)
    try:
        text, _ = check(description, bot.settings.max_question_chars)
    except BadQuestion as exc:
        err(str(exc), err=True)
        raise typer.Exit(1) from exc
    result = run(bot.kb, from_text(text))
    if as_json:
        _print_json(result.to_dict())
        return
    typer.echo(result.render())
    if result.citations:
        typer.echo("\n来源：")
        for c in result.citations:
            typer.echo(f"[{c.n}] {c.title}  {c.url}")


@app.command()
def batch(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV 或 XLSX：每行一个问题（question/问题 列，或第一列）")],
    out: Annotated[Path, typer.Option("-o", "--output", help="输出 .csv、.xlsx 或 .md")],
):
    """Answer one question per row; the output has a header and exactly one row per input row."""
    from bot.batch import answer_rows, read_rows, write_rows

    if out.suffix.lower() not in {".csv", ".xlsx", ".md"}:
        err("输出文件须为 .csv、.xlsx 或 .md", err=True)
        raise typer.Exit(2)
    questions = _read(lambda: read_rows(file), f" {file}")
    bot = _bot(ctx)
    bar = tqdm_bar(len(questions))
    rows = answer_rows(bot, questions, progress=bar.update)
    bar.close()
    write_rows(rows, out)
    failed = sum(1 for r in rows if r["error"])
    err(f"已写入 {out}：{len(rows)} 行，其中 {failed} 行出错", err=True)


@app.command()
def gaps(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="统计最近多少天的对话")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（与 GET /admin/api/gaps 相同）")] = False,
):
    """Coverage-gap report: refused in-domain, low-confidence and 👎 questions, grouped by meaning."""
    from bot.gaps import for_settings, to_json, to_markdown

    try:
        found = for_settings(_settings(ctx), days)
    except Exception as exc:  # a missing driver, a database that is down: one clear line, no traceback
        err(f"无法读取对话记录数据库（BOT_DATABASE_URL）：{type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            err=True)
        raise typer.Exit(2) from exc
    if as_json:
        _print_json(to_json(found))
    else:
        typer.echo(to_markdown(found, days))


def tqdm_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="逐行回答", unit="行", file=sys.stderr)


@app.command("eval")
def eval_cmd(
    ctx: typer.Context,
    qa: Annotated[Path, typer.Option("--qa", help="JSONL 问题集（格式同 shared/eval/dev.jsonl）")],
    retriever: Annotated[str | None, typer.Option("--retriever", help="bm25 | dense | hybrid")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="在标准输出打印一个 JSON 对象")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="三种检索方式都跑一遍，把 Markdown 和 JSON 报告写到此目录")] = None,
):
    """Score answers: recall@5, fact coverage, citation support, refusals, latency."""
    from bot.chat import Bot
    from bot.evaluate import evaluate, load_questions, markdown_report

    questions = _read(lambda: load_questions(qa), "问题集")
    settings = _settings(ctx)
    modes = ["bm25", "dense", "hybrid"] if report else [retriever or settings.retriever]
    bot = Bot(settings, retriever=modes[0])
    results = []
    for mode in modes:
        bot.use_retriever(mode)
        results.append(evaluate(bot, questions, mode))
    if report:
        report.mkdir(parents=True, exist_ok=True)
        stem = qa.stem
        command = "bot eval --qa " + str(qa) + " --report " + str(report)
        (report / f"eval-{stem}.md").write_text(markdown_report(results, str(qa), command) + "\n", "utf-8")
        summary = {r["retriever"]: {k: v for k, v in r.items() if k != "questions"} for r in results}
        (report / f"eval-{stem}.json").write_text(
            json.dumps({"command": command, "summary": summary, "runs": results}, ensure_ascii=False, indent=1), "utf-8")
        err(f"报告已写入 {report}/eval-{stem}.md 和 .json", err=True)
    final = results[-1]
    if as_json:
        _print_json(final)
        return
    _print_eval(results)


def _print_eval(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for res in results:
        table = Table(title=f"逐题结果（{res['retriever']}）", show_lines=False)
        for col in ("id", "主题", "拒答", "召回@5", "缺少的要点", "无引用支撑", "耗时ms"):
            table.add_column(col)
        for q in res["questions"]:
            table.add_row(q["id"], q["topic"], "是" if q["refused"] else "", "✓" if q["recall_hit"] else "✗",
                          " ".join(q["missing"]), " ".join(q["unsupported"]), f"{q['latency_ms']:.0f}")
        console.print(table)
    summary = Table(title="汇总")
    summary.add_column("指标")
    for res in results:
        summary.add_column(res["retriever"])
    from bot.evaluate import METRICS

    for key in METRICS:
        summary.add_row(key, *[str(r[key]) for r in results])
    console.print(summary)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
