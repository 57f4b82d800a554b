"""Quality gate: the dev question set must keep the numbers measured with `bot eval` (see results/)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.evaluate import evaluate, load_questions
from tests.conftest import ROOT, SHARED

DEV = SHARED / "eval" / "dev.jsonl"
# Set from the measured numbers (results/eval-dev.md), with a little room; none below 0.8.
GATE = {"fact_coverage": 0.93, "citation_support": 0.95, "refusal_accuracy": 1.0, "recall_at_5": 0.8}
MAX_FALSE_REFUSALS = 0.05


def test_dev_set_meets_the_gate(bot):
    report = evaluate(bot, load_questions(DEV), "hybrid")
    failing = {k: report[k] for k, floor in GATE.items() if report[k] < floor}
    readable = [(q["id"], q["missing"], q["unsupported"], q["refused"]) for q in report["questions"]
                if q["missing"] or q["unsupported"] or q["refused"] == q["answerable"]]
    assert not failing, (failing, readable)
    assert report["false_refusals"] <= MAX_FALSE_REFUSALS, readable


# The bar the issue sets for questions outside the dev set. eval/heldout*.jsonl were written independently
# of the corpus and the bot; each was first measured unseen (results/tuning.md), later ones tuned on too.
BAR = {"fact_coverage": 0.85, "citation_support": 0.9, "refusal_accuracy": 0.8}
MAX_FALSE_REFUSALS_UNSEEN = 0.1


@pytest.mark.parametrize("qa", sorted((ROOT / "eval").glob("heldout*.jsonl")), ids=lambda p: p.stem)
def test_written_question_sets_meet_the_bar(bot, qa):
    report = evaluate(bot, load_questions(qa), "hybrid")
    failing = {k: report[k] for k, floor in BAR.items() if report[k] < floor}
    readable = [(q["id"], q["missing"], q["refused"]) for q in report["questions"]
                if q["missing"] or q["refused"] == q["answerable"]]
    assert not failing, (failing, readable)
    assert report["false_refusals"] <= MAX_FALSE_REFUSALS_UNSEEN, readable


def test_eval_cli_json_contract(bot, corpus_settings, tmp_path):
    qa = tmp_path / "qa.jsonl"
    lines = [json.loads(x) for x in DEV.read_text("utf-8").splitlines() if x.strip()]
    qa.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines[:3] + lines[-6:]) + "\n", "utf-8")
    env = {**os.environ, "BOT_INDEX_DIR": str(corpus_settings.index_dir), "BOT_EMBED_CACHE": str(corpus_settings.cache_path)}
    out = subprocess.run([sys.executable, "-m", "bot", "eval", "--qa", str(qa), "--json"], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    for key in ("recall_at_5", "fact_coverage", "citation_support", "refusal_accuracy", "false_refusals"):
        assert 0.0 <= obj[key] <= 1.0
    assert obj["latency_p95_ms"] >= obj["latency_p50_ms"] > 0
    assert len(obj["questions"]) == 9
    q = obj["questions"][0]
    assert {"id", "retrieved", "missing", "covered", "refused"} <= set(q)
    assert q["retrieved"] and "chunk_id" in q["retrieved"][0]
