"""A real HTTP server on 127.0.0.1 that speaks OpenAI chat-completions and Ollama's /api/chat.

Scriptable per test (`server.mode`): "good" answers from the numbered sources it is given, "bogus" also
cites a source that does not exist, "nocite" cites nothing, "stall" stops sending mid-stream, "drop"
closes the connection mid-stream, "malformed" sends broken JSON, "500"/"429" fail with that status.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _sources(text: str) -> dict[int, str]:
    block = text.split("【问题】")[0]
    found = {}
    for m in re.finditer(r"\[(\d+)\] 《[^》]*》\n(.+?)(?=\n\n\[\d+\] 《|\Z)", block, flags=re.S):
        found[int(m.group(1))] = m.group(2).strip()
    return found


def _first_sentence(text: str) -> str:
    text = re.sub(r"^[-*\s]+", "", text.strip())
    m = re.match(r"(.+?[。！？])", text, flags=re.S)
    return (m.group(1) if m else text[:60]).replace("\n", "")


class ScriptedLLM(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = "good"
        self.stall_seconds = 8.0
        self.condense_reply: str | None = None
        self.requests: list[dict] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def reply_for(self, messages: list[dict]) -> str:
        user = messages[-1]["content"] if messages else ""
        if isinstance(user, list):
            user = "".join(p.get("text", "") for p in user if isinstance(p, dict))
        if "【资料】" not in user:  # a follow-up rewrite request
            if self.condense_reply:
                return self.condense_reply
            m = re.search(r"最后一个问题：(.+)", user)
            return m.group(1).strip() if m else user
        src = _sources(user)
        if self.mode == "nocite":
            return "根据资料，这个问题需要具体分析，建议咨询顾问。"
        parts = [f"{_first_sentence(src[n])}[{n}]" for n in sorted(src)[:2]]
        if self.mode == "bogus":
            parts.append("另外还有一条规定需要注意[99]。")
        return "结论如下：" + "\n".join(parts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedLLM

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.requests.append({"path": self.path, "body": body})
        mode = self.server.mode
        if mode in {"500", "429"}:
            self._json({"error": {"message": f"scripted {mode}", "type": "server_error"}}, int(mode),
                       {"Retry-After": "0"} if mode == "429" else None)
            return
        text = self.server.reply_for(body.get("messages", []))
        if self.path.startswith("/v1/chat/completions"):
            self._openai(body, text, mode)
        elif self.path.startswith("/api/chat"):
            self._ollama(body, text, mode)
        else:
            self.send_error(404)

    # -- wire formats ---------------------------------------------------------------------------

    def _json(self, obj: dict, status: int = 200, headers: dict | None = None) -> None:
        payload = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _chunked_start(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _pieces(self, text: str) -> list[str]:
        return [text[i : i + 5] for i in range(0, len(text), 5)]

    def _misbehave(self, i: int, mode: str) -> bool:
        """Act out a failure after two pieces; True when the response is over."""
        if i != 2:
            return False
        if mode == "stall":
            time.sleep(self.server.stall_seconds)
            return True
        if mode == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return True
        if mode == "malformed":
            self._chunk(b"data: {this is not json\n\n")
            self._chunk(b"")
            return True
        return False

    def _openai(self, body: dict, text: str, mode: str) -> None:
        base = {"id": "chatcmpl-test", "created": int(time.time()), "model": body.get("model", "test")}
        if not body.get("stream"):
            self._json({**base, "object": "chat.completion", "choices": [{
                "index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})
            return
        self._chunked_start("text/event-stream")
        for i, piece in enumerate(self._pieces(text)):
            if self._misbehave(i, mode):
                return
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            event = {**base, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            self._chunk(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
        end = {
            **base,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        self._chunk(f"data: {json.dumps(end)}\n\n".encode())
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _ollama(self, body: dict, text: str, mode: str) -> None:
        model = body.get("model", "test")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ")
        if body.get("stream") is False:
            self._json({"model": model, "created_at": now, "message": {"role": "assistant", "content": text},
                        "done": True, "done_reason": "stop"})
            return
        self._chunked_start("application/x-ndjson")
        for i, piece in enumerate(self._pieces(text)):
            if self._misbehave(i, mode):
                return
            line = {
                "model": model,
                "created_at": now,
                "message": {"role": "assistant", "content": piece},
                "done": False,
            }
            self._chunk((json.dumps(line, ensure_ascii=False) + "\n").encode())
        final = {"model": model, "created_at": now, "message": {"role": "assistant", "content": ""}, "done": True,
                 "done_reason": "stop", "total_duration": 1, "load_duration": 1, "prompt_eval_count": 1,
                 "prompt_eval_duration": 1, "eval_count": 1, "eval_duration": 1}
        self._chunk((json.dumps(final) + "\n").encode())
        self._chunk(b"")
