"""One subprocess smoke test per entry point — the `bot` console script, `python -m bot` and `python app.py` —
as a user starts them; everything else runs in process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import ROOT, start_app, stop


def _env(settings) -> dict[str, str]:
    return {**os.environ, "BOT_INDEX_DIR": str(settings.index_dir), "BOT_EMBED_CACHE": str(settings.cache_path),
            "BOT_DATABASE_URL": settings.database_url}


def test_bot_console_script_answers_with_citations(bot, corpus_settings):
    exe = Path(sys.executable).parent / "bot"
    assert exe.exists() or shutil.which("bot"), "the `bot` script is installed with the package"
    out = subprocess.run([str(exe), "ask", "--json", "ICP证有效期几年？"], capture_output=True, text=True,
                         env=_env(corpus_settings), cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert obj["answer"].startswith("5年") and obj["citations"][0]["doc_id"] and obj["answer_id"]


def test_python_m_bot_reports_bad_input_without_a_traceback(bot, corpus_settings):
    out = subprocess.run([sys.executable, "-m", "bot", "ask", "   "], capture_output=True, text=True,
                         env=_env(corpus_settings), cwd=ROOT, timeout=300)
    assert out.returncode != 0 and "问题为空" in out.stdout + out.stderr
    assert "Traceback" not in out.stderr


def test_app_py_serves_the_page_and_the_api(bot, corpus_settings):
    url, proc = start_app(corpus_settings)
    try:
        assert httpx.get(url + "/healthz", timeout=10).json()["status"] == "ok"
        assert "增值电信" in httpx.get(url + "/", timeout=10).text
        r = httpx.post(url + "/api/ask", json={"question": "ICP证有效期几年？"}, timeout=60)
        assert r.status_code == 200 and r.json()["answer"].startswith("5年")
    finally:
        stop(proc)
    assert proc.returncode is not None
