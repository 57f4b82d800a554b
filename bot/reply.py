"""Sales desk: read a client's pasted message, answer each question from the knowledge base, and compose
a reply ready to send, with the sources as numbered footnotes. Also batches of questions (CSV / XLSX)."""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.answer import DISCLAIMER, source_line
from bot.facts import ClientFacts, extract_facts
from bot.questions import BadQuestion, check, question_parts


@dataclass
class AnsweredQuestion:
    question: str
    answer: str
    citations: list[dict]
    refused: bool


@dataclass
class Reply:
    text: str
    facts: ClientFacts
    questions: list[AnsweredQuestion]
    citations: list[dict]

    def to_dict(self) -> dict:
        return {"reply": self.text, "facts": asdict(self.facts), "questions": [asdict(q) for q in self.questions],
                "citations": self.citations}


def fact_checks(facts: ClientFacts) -> list[tuple[str, str]]:
    """(lead-in naming the client's fact, question to answer from the knowledge base) where a fact decides."""
    checks = []
    cap = facts.registered_capital_wan
    if cap is not None and facts.scope == "全国/跨省" and cap < 1000:
        checks.append((f"贵司注册资本{cap:g}万元，而业务面向全国/跨省", "跨省经营增值电信业务注册资本最低限额是多少？"))
    elif cap is not None and cap < 100:
        checks.append((f"贵司注册资本{cap:g}万元", "省内经营增值电信业务注册资本最低限额是多少？"))
    if facts.foreign:
        biz = "经营类电子商务" if any("电商" in b or "交易" in b for b in facts.business) else "增值电信业务"
        checks.append((f"贵司有外资成分（{facts.foreign}）", f"外资经营{biz}的外资股比上限是多少？"))
    if "电商平台（商家入驻）" in facts.business and "EDI证" not in facts.licences_held:
        checks.append(("贵司平台允许第三方商家入驻", "平台允许商家入驻需要办理在线数据处理与交易处理业务许可证（EDI证）吗？"))
    return checks


_LOCAL = re.compile(r"\[(\d+)\]")


def _body(answer_text: str) -> str:
    """The cited sentences of an answer, without the closing disclaimer and the list header."""
    text = answer_text.replace(DISCLAIMER, "").replace("要点：\n", "")
    # Section headings (【…】) repeat the question, which the reply already shows.
    return "\n".join(line for line in text.splitlines()
                     if line.strip() and not re.fullmatch(r"【.*】", line.strip())).strip()


def compose(bot, message: str, tone: str = "正式", sources: bool = True) -> Reply:
    """Answer every question in a client's message and write the reply. Raises BadQuestion for empty input."""
    text, _ = check(message, bot.settings.max_question_chars)
    facts = extract_facts(text)
    questions = question_parts(text)
    concise = tone == "简洁"
    registry: dict[str, dict] = {}  # chunk id -> global citation

    def renumber(ans, text: str) -> str:
        """Local [n] of one answer → numbers shared by the whole reply, for the text actually used."""
        local = {c.n: c for c in ans.citations}

        def sub(m: re.Match) -> str:
            c = local.get(int(m.group(1)))
            if c is None:
                return ""
            if c.chunk_id not in registry:
                registry[c.chunk_id] = {**c.to_dict(), "n": len(registry) + 1}
            return f"[{registry[c.chunk_id]['n']}]"

        return _LOCAL.sub(sub, text)

    max_lines = 2 if concise else 4
    used: set[str] = set()  # sentences already quoted in an earlier section

    def fresh_lines(answer_text: str) -> list[str]:
        out = []
        for line in _body(answer_text).splitlines():
            key = _LOCAL.sub("", line).lstrip("- ").strip()
            if key in used:
                continue
            used.add(key)
            out.append(line)
            if len(out) == max_lines:
                break
        return out

    answered: list[AnsweredQuestion] = []
    sections: list[str] = []
    numerals = "一二三四五六七八九十"
    for i, (q, query) in enumerate(questions):
        try:
            ans = bot.ask(query)
        except BadQuestion:
            continue
        if ans.refused:
            body = "这一点知识库中暂无可靠资料，建议与顾问进一步沟通确认。"
        else:
            body = renumber(ans, "\n".join(fresh_lines(ans.answer)) or _body(ans.answer).splitlines()[0])
        answered.append(AnsweredQuestion(q, ans.answer, [c.to_dict() for c in ans.citations], ans.refused))
        title = q if len(q) <= 60 else q[:58] + "…"
        heading = f"{numerals[i] if i < 10 else i + 1}、{title}" if len(questions) > 1 else f"关于您的问题：{title}"
        sections.append(f"{heading}\n{body}")
    notes = []
    for lead, q in fact_checks(facts):
        ans = bot.ask(q)
        if ans.refused or not ans.citations:
            continue
        first = renumber(ans, _body(ans.answer).splitlines()[0].lstrip("- "))
        notes.append(f"- {lead}：{first}")
    greeting = "您好！" if concise else "您好！感谢您的咨询。"
    situation = f"根据您提供的情况（{facts.summary()}），" if facts.summary() else ""
    parts = [f"{greeting}{situation}{'答复如下：' if situation else '现将您关心的问题答复如下：'}", *sections]
    if notes:
        parts.append("结合贵司情况，特别提示：\n" + "\n".join(notes))
    parts.append("以上供参考，不构成法律意见，具体以工信部或当地通信管理局的要求为准。如需进一步协助，欢迎随时联系。")
    citations = sorted(registry.values(), key=lambda c: c["n"])
    if sources and citations:
        parts.append("参考来源：\n" + "\n".join(source_line(c["n"], c["title"], c["url"]) for c in citations))
    reply_text = "\n\n".join(parts)
    if not sources:
        reply_text = _LOCAL.sub("", reply_text)
    return Reply(reply_text, facts, answered, citations if sources else [])


# -- batches -----------------------------------------------------------------------------------------

HEADER_NAMES = {"question", "questions", "问题", "提问", "客户问题"}
OUT_COLUMNS = ["question", "answer", "sources", "refused", "confidence", "error"]


def read_rows(path: Path) -> list[str | None]:
    """One entry per data row (None for a blank row), from the column named question/问题 or the first."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = [list(r) for r in csv.reader(fh)]
    elif suffix in {".xlsx", ".xlsm"}:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        rows = [["" if v is None else str(v) for v in r] for r in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
        while rows and not any(c.strip() for c in rows[-1]):
            rows.pop()  # a sheet's trailing empty rows are formatting, not questions
    else:
        raise ValueError(f"不支持的文件类型 {suffix}（可用 .csv 或 .xlsx）")
    col = 0
    if rows and any(c.strip().lower() in HEADER_NAMES for c in rows[0]):
        col = next(i for i, c in enumerate(rows[0]) if c.strip().lower() in HEADER_NAMES)
        rows = rows[1:]
    return [(r[col].strip() or None) if len(r) > col else None for r in rows]


def answer_rows(bot, questions: list[str | None], progress=None) -> list[dict]:
    out = []
    for q in questions:
        row = {"question": q or "", "answer": "", "sources": "", "refused": "", "confidence": "", "error": ""}
        try:
            if not q:
                raise BadQuestion("空行：没有问题")
            ans = bot.ask(q)
            row.update(answer=ans.answer, refused=str(ans.refused).lower(), confidence=f"{ans.confidence:.2f}",
                       sources="\n".join(source_line(c.n, c.title, c.url) for c in ans.citations))
        except BadQuestion as exc:
            row["error"] = str(exc)
        except Exception as exc:  # one bad row never stops the batch
            row["error"] = f"处理失败：{type(exc).__name__}"
        out.append(row)
        if progress:
            progress(1)
    return out


def write_rows(rows: list[dict], path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=OUT_COLUMNS)
            w.writeheader()
            w.writerows(rows)
    elif suffix == ".xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "answers"
        ws.append(OUT_COLUMNS)
        for r in rows:
            ws.append([r[c] for c in OUT_COLUMNS])
        wb.save(path)
    elif suffix == ".md":
        import html

        def cell(v: str) -> str:  # user text must not become HTML in a Markdown viewer
            return html.escape(str(v), quote=False).replace("|", "\\|").replace("\n", "<br>")

        lines = ["| # | " + " | ".join(OUT_COLUMNS) + " |", "|" + " --- |" * (len(OUT_COLUMNS) + 1)]
        lines += [f"| {i} | " + " | ".join(cell(r[c]) for c in OUT_COLUMNS) + " |" for i, r in enumerate(rows, 1)]
        path.write_text("\n".join(lines) + "\n", "utf-8")
    else:
        raise ValueError(f"不支持的输出类型 {suffix}（可用 .csv、.xlsx 或 .md）")
