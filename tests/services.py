"""Real services for the tests, started on 127.0.0.1 by the test that needs them and stopped after it: a Chroma
server, Redis, PostgreSQL (as an unprivileged user when the tests run as root: initdb refuses root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port


def _wait(check, what: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{what} did not start")


@contextmanager
def chroma_server(folder: Path) -> Iterator[int]:
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(up, "chroma", proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        import redis

        try:
            return bool(redis.Redis(port=port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    try:
        _wait(up, "redis", proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)")


@contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """A throwaway cluster in `folder`; yields a SQLAlchemy URL. Run as `nobody` when the tests run as root."""
    folder.mkdir(parents=True, exist_ok=True)
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(folder, "nobody")
        os.chmod(folder, 0o700)

    def run(args: list[str], **kw) -> subprocess.Popen:
        cmd = (["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if as_root else []) + args
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)

    data, sock = folder / "data", folder
    init = run([_pg_bin("initdb"), "-D", str(data), "-U", "bot", "--auth=trust", "-E", "UTF8", "--locale=C"])
    if init.wait(timeout=120) != 0:
        raise RuntimeError(f"initdb failed: {init.stderr.read().decode() if init.stderr else ''}")
    port = free_port()
    proc = run([_pg_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(sock), "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off"])

    def up() -> bool:
        import psycopg

        try:
            with psycopg.connect(f"host=127.0.0.1 port={port} user=bot dbname=postgres", connect_timeout=1) as c:
                c.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    try:
        _wait(up, "postgres", proc, 90)
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=bot dbname=postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE botlog")
        yield f"postgresql+psycopg://bot@127.0.0.1:{port}/botlog"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
