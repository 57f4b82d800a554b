"""Calibrate the answer-card match decision on the tuning question sets.

Every question of the tuning sets (the dev set and eval/heldout.jsonl … heldout9.jsonl — never a set kept for an
unseen measurement), and every question inside a message that asks several, was shown with its four best
candidate cards to a reviewer, who judged each card: 2 = its answer answers the question, 1 = related but
answers something else, 0 = does not answer or would mislead (eval/card_judgments.jsonl). A ranking model over
the features of `bot.cards.FEATURES` is fitted to put the answering cards first, and the threshold is chosen so
that a card leads only where it is expected to beat the quoted sentence the answer would otherwise open with.
Writes bot/data/cards.toml and results/cards.md.

    .venv/bin/python bench/calibrate_cards.py [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.cards import FEATURES  # noqa: E402
from bot.chat import Bot  # noqa: E402
from bot.evaluate import load_questions  # noqa: E402

SETS = [ROOT.parent / "shared" / "eval" / "dev.jsonl",
        *[ROOT / "eval" / f"heldout{n}.jsonl" for n in ["", "2", "3", "4", "5", "6", "7", "8", "9"]]]
JUDGMENTS = ROOT / "eval" / "card_judgments.jsonl"
# What a first line is worth: a card judged 2 / 1 / 0, and (when no card leads) the quoted sentence, which the
# same reviewers' reading of the answers puts at about this rate of first lines that answer.
VALUE = {2: 1.0, 1: 0.3, 0: -0.25}
QUOTED = 0.6


def collect(bot: Bot) -> list[dict]:
    """Per judged question: its candidate cards' features and judgments, by set."""
    judged = {j["key"]: j["judged"] for j in map(json.loads, JUDGMENTS.read_text("utf-8").splitlines())}
    rows = []
    for path in SETS:
        for q in load_questions(path):
            if not q.get("answerable", True):
                continue
            for n, query in enumerate(bot.queries(q["question"], q.get("turns"))):
                labels = judged.get(f"{path.stem}/{q.get('id')}/{n}")
                if not labels:
                    continue
                r = bot.retriever.search(query, k=bot.settings.top_k)
                cands = [s for s in bot.kb.cards.scores(r) if s.card.card_id in labels]
                if cands:
                    rows.append({"set": path.stem, "X": np.array([[s.features[f] for f in FEATURES] for s in cands]),
                                 "label": np.array([labels[s.card.card_id] for s in cands])})
    return rows


def fit(rows: list[dict], l2: float = 0.5, steps: int = 300, lr: float = 0.3) -> tuple[np.ndarray, float]:
    """A ranking model: per question, a softmax over its candidate cards, fitted to put the answering cards on
    top (gradient ascent on the log-likelihood, standardised features). Weights come back in feature units."""
    X = np.vstack([r["X"] for r in rows])
    mu, sd = X.mean(0), X.std(0) + 1e-9
    data = [((r["X"] - mu) / sd, (r["label"] == 2).astype(float)) for r in rows if (r["label"] == 2).any()]
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        grad = -l2 * w
        for Z, y in data:
            s = Z @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            grad += Z.T @ (y / y.sum() - p)
        w += lr * grad / len(data)
    return w / sd, float(-(mu / sd) @ w)


def decide(rows: list[dict], w: np.ndarray, b: float, t: float) -> dict:
    """Lead with the best-ranked card when its score (w·x + b) reaches t; otherwise quote."""
    value, led, labels = 0.0, 0, []
    for r in rows:
        s = r["X"] @ w + b
        i = int(np.argmax(s))
        if s[i] >= t:
            led += 1
            labels.append(int(r["label"][i]))
            value += VALUE[int(r["label"][i])]
        else:
            value += QUOTED
    n = len(rows)
    return {"t": t, "value": value / n, "card_leads": led / n,
            "answers": labels.count(2) / max(1, led), "misleads": labels.count(0) / max(1, led),
            "top_answers": float(np.mean([r["label"][int(np.argmax(r["X"] @ w + b))] == 2 for r in rows]))}


def best_threshold(rows: list[dict], w: np.ndarray, b: float) -> dict:
    tops = sorted({round(float(np.max(r["X"] @ w + b)), 3) for r in rows})
    return max((decide(rows, w, b, t) for t in tops), key=lambda d: d["value"])


def report(rows: list[dict], w: np.ndarray, b: float, chosen: dict, folds: list[tuple[str, dict]]) -> str:
    n_pairs = sum(len(r["label"]) for r in rows)
    lines = [
        "# Answer-card match calibration",
        "",
        "Command: `.venv/bin/python bench/calibrate_cards.py --write`",
        "",
        f"{len(rows)} judged questions of the tuning sets, {n_pairs} (question, card) pairs "
        f"(eval/card_judgments.jsonl).",
        "",
        "| weight | " + " | ".join(FEATURES) + " | bias |",
        "|" + " --- |" * (len(FEATURES) + 2),
        "| value | " + " | ".join(f"{v:.2f}" for v in w) + f" | {b:.2f} |",
        "",
        f"The best-ranked card answers the question for {chosen['top_answers']:.3f} of questions. "
        f"Threshold {chosen['t']:.3f}: a card leads for {chosen['card_leads']:.3f} of questions; of those, "
        f"{chosen['answers']:.3f} answer and {chosen['misleads']:.3f} were judged not to answer.",
        "",
        "Leave one set out (model and threshold fitted without the set, measured on it):",
        "",
        "| held-out set | questions | card leads | of which answer | of which do not |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {name} | {sum(r['set'] == name for r in rows)} | {d['card_leads']:.3f} | {d['answers']:.3f} | "
              f"{d['misleads']:.3f} |" for name, d in folds]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="write bot/data/cards.toml and results/cards.md")
    args = ap.parse_args()
    rows = collect(Bot())
    w, b = fit(rows)
    chosen = best_threshold(rows, w, b)
    folds = []
    for name in dict.fromkeys(r["set"] for r in rows):
        train, test = [r for r in rows if r["set"] != name], [r for r in rows if r["set"] == name]
        wf, bf = fit(train)
        folds.append((name, decide(test, wf, bf, best_threshold(train, wf, bf)["t"])))
    text = report(rows, w, b, chosen, folds)
    print(text)
    if args.write:
        weights = "\n".join(f"{f} = {v:.4f}" for f, v in zip(FEATURES, w, strict=True))
        path = ROOT / "bot" / "data" / "cards.toml"
        head = path.read_text("utf-8").split("bias =")[0]
        path.write_text(head + f"bias = {b:.4f}\nthreshold = {chosen['t']:.3f}\n\n[weights]\n{weights}\n", "utf-8")
        (ROOT / "results" / "cards.md").write_text(text, "utf-8")


if __name__ == "__main__":
    main()
