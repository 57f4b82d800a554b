"""Retrieval tuning on the question sets: fusion depth, dense weight, synonym weight (no re-index needed).

    .venv/bin/python bench/tune.py [--qa ../shared/eval/dev.jsonl --qa eval/heldout.jsonl]

Writes results/tuning.md. Chunk-size runs re-index into a scratch dir with --chunk-sizes 200,320,480.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.chat import Bot  # noqa: E402
from bot.evaluate import evaluate, load_questions  # noqa: E402
from bot.retrieve import Retriever  # noqa: E402
from bot.settings import get_settings  # noqa: E402

KEYS = ["recall_at_5", "fact_coverage", "citation_support", "refusal_accuracy", "false_refusals"]


def run(bot, sets, **kw) -> dict:
    bot.retriever = Retriever(bot.kb, kw.pop("mode", "hybrid"), **kw)
    return {name: {k: r[k] for k in KEYS} for name, qs in sets.items() for r in [evaluate(bot, qs, "hybrid")]}


def row(label: str, res: dict) -> str:
    return f"| {label} | " + " | ".join(
        " / ".join(str(res[name][k]) for name in res) for k in KEYS) + " |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qa", action="append", type=Path)
    ap.add_argument("--chunk-sizes", default="")
    args = ap.parse_args()
    qa = args.qa or [ROOT.parent / "shared" / "eval" / "dev.jsonl", ROOT / "eval" / "heldout.jsonl"]
    sets = {p.stem: load_questions(p) for p in qa if p.exists()}
    bot = Bot(get_settings())
    header = ["| setting | " + " | ".join(f"{k} ({' / '.join(sets)})" for k in KEYS) + " |",
              "|" + " --- |" * (len(KEYS) + 1)]
    lines = ["# Retrieval tuning", "", f"Command: `python bench/tune.py {' '.join(sys.argv[1:])}`", "",
             "Each cell: value on " + " / ".join(sets) + ".", ""]
    lines += ["## Retriever and fusion depth", ""] + header
    for mode in ("bm25", "dense", "hybrid"):
        lines.append(row(f"{mode}, depth 25", run(bot, sets, mode=mode)))
    for depth in (10, 50, 100):
        lines.append(row(f"hybrid, depth {depth}", run(bot, sets, depth=depth)))
    lines += ["", "## Dense weight in RRF (hybrid, depth 25)", ""] + header
    for w in (0.5, 1.5, 2.0):
        lines.append(row(f"dense weight {w}", run(bot, sets, dense_weight=w)))
    lines += ["", "## Synonym table weight in BM25 (hybrid)", ""] + header
    for w in (0.0, 0.2, 0.4, 0.7, 1.0):
        lines.append(row(f"synonym weight {w}", run(bot, sets, synonym_weight=w)))
    if args.chunk_sizes:
        lines += ["", "## Chunk size (re-indexed in a scratch dir)", ""] + header
        cache = Path(tempfile.gettempdir()) / "tune-embed-cache.sqlite"  # never grow the committed cache
        if not cache.exists():
            shutil.copy(ROOT / "index" / "embed_cache.sqlite", cache)
        for size in [int(s) for s in args.chunk_sizes.split(",")]:
            tmp = Path(tempfile.mkdtemp())
            settings = get_settings(index_dir=tmp, chunk_size=size, chunk_overlap=size // 5, embed_cache=cache)
            lines.append(row(f"chunk {size} / overlap {size // 5}", run(Bot(settings), sets)))
            shutil.rmtree(tmp, ignore_errors=True)
    out = ROOT / "results" / "tuning.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n", "utf-8")
    print(out.read_text("utf-8"))


if __name__ == "__main__":
    main()
