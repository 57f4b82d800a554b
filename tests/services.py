"""Real services for the tests, started on 127.0.0.1 by the test that needs them and stopped after it: a Chroma
server, Redis, PostgreSQL (as an unprivileged user when the tests run as root: initdb refuses root)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
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


class Postgres:
    """A throwaway cluster on 127.0.0.1 that a test can stop and start again (same data, same port). When the
    tests run as root it lives in a folder of its own under /tmp owned by `nobody` (initdb refuses root, and
    pytest's tmp folders are closed to other users)."""

    def __init__(self, folder: Path) -> None:
        self.as_root = os.geteuid() == 0
        if self.as_root:
            self.folder = Path(tempfile.mkdtemp(prefix="bot-pg-"))
            shutil.chown(self.folder, "nobody")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            self.folder = folder
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://bot@127.0.0.1:{self.port}/botlog"
        self.proc: subprocess.Popen | None = None

    def _run(self, args: list[str]) -> subprocess.Popen:
        cmd = (["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if self.as_root else []) + args
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _dsn(self, db: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=bot dbname={db}"

    def _up(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self._dsn(), connect_timeout=1) as c:
                c.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def start(self) -> str:
        first = not self.data.exists()
        if first:
            init = self._run([_pg_bin("initdb"), "-D", str(self.data), "-U", "bot", "--auth=trust", "-E", "UTF8",
                              "--locale=C"])
            if init.wait(timeout=120) != 0:
                raise RuntimeError(f"initdb failed: {init.stderr.read().decode() if init.stderr else ''}")
        self.proc = self._run([_pg_bin("postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.folder),
                               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        _wait(self._up, "postgres", self.proc, 90)
        if first:
            import psycopg

            with psycopg.connect(self._dsn(), autocommit=True) as c:
                c.execute("CREATE DATABASE botlog")
        return self.url

    def database(self) -> str:
        """A fresh, empty database on this server; its SQLAlchemy URL."""
        import uuid

        import psycopg

        name = f"t{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._dsn(), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://bot@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)  # fast shutdown: open client connections are ended too
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        if self.as_root:
            shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """A throwaway cluster in `folder`; yields a SQLAlchemy URL. Run as `nobody` when the tests run as root."""
    pg = Postgres(folder)
    try:
        yield pg.start()
    finally:
        pg.remove()
