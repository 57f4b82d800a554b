"""`bot batch`: one question per row of a CSV or XLSX file in, one answer per row out (CSV, XLSX or Markdown),
in order; a blank or failing row gets an error cell instead of stopping the batch."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.answer import source_line
from bot.query import BadQuestion

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
