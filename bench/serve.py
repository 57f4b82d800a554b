"""Start `app.py` for a benchmark: a free 127.0.0.1 port, the caller's environment, wait for /healthz."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(cwd: Path, env: dict[str, str], timeout: float = 300) -> tuple[str, subprocess.Popen, float]:
    """app.py of the checkout `cwd` with `env` over this process's environment: its URL, the process and the
    seconds from start until /healthz answered 200. A server that never gets there is killed."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)], cwd=cwd,
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - started < timeout:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return url, proc, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cwd}: app.py not healthy after {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)
