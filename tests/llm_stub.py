"""A real HTTP server on loopback that speaks OpenAI's chat-completions protocol with canned replies, for agents
that need an LLM endpoint (the aide adapter). Clients talk HTTP to it exactly as to a real endpoint.

    with LLMStub(code=SOLUTION, metric=0.42) as stub:      # stub.base_url: http://127.0.0.1:PORT/v1
        ...                                              # stub.requests: every request it received

    GET  /v1/models              one model, MODEL
    POST /v1/chat/completions    with `tools`: a call of the first tool with `review` as its arguments (AIDE's
                                 submit_review); a prompt asking for code (a plan and a ```python block): `code`
                                 under a short plan; anything else (AIDE's closing report): a short markdown text

Standard library only; the server runs in a daemon thread and ends with the `with` block.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "stub-coder"
PLAN = "Predict with a simple model fitted on the training data, scored on a hold-out split."
REPORT = "# Report\n\nA canned report from the test endpoint.\n"


class LLMStub:
    def __init__(self, code: str, metric: float = 0.5, lower_is_better: bool = False, model: str = MODEL):
        self.code, self.model = code, model
        self.review = {"is_bug": False, "summary": "It ran and printed its validation metric.",
                       "metric": float(metric), "lower_is_better": lower_is_better}
        self.requests: list[dict] = []  # {"method", "path", "authorization", "body"}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "LLMStub":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def chat_requests(self) -> list[dict]:
        with self._lock:
            return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    # -----------------------------------------------------------------------------------------------------

    def reply(self, body: dict) -> dict:
        """The chat completion for one request."""
        message = {"role": "assistant", "content": None}
        finish = "stop"
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            message["tool_calls"] = [{"id": f"call_{len(self.requests)}", "type": "function",
                                      "function": {"name": name, "arguments": json.dumps(self.review)}}]
            finish = "tool_calls"
        elif _asks_for_code(body):
            message["content"] = f"{PLAN}\n\n```python\n{self.code.strip()}\n```\n"
        else:
            message["content"] = REPORT
        return {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model") or self.model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}}

    def models(self) -> dict:
        return {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "test"}]}

    def _record(self, method: str, path: str, authorization: str | None, body) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "authorization": authorization, "body": body})

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's name
                stub._record("GET", self.path, self.headers.get("Authorization"), None)
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, stub.models())
                else:
                    self._send(404, {"error": {"message": f"no {self.path}", "type": "not_found"}})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {"error": {"message": "the body is not JSON", "type": "invalid_request"}})
                    return
                stub._record("POST", self.path, self.headers.get("Authorization"), body)
                if self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(200, stub.reply(body))
                else:
                    self._send(404, {"error": {"message": f"no {self.path}", "type": "not_found"}})

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args) -> None:  # quiet: the test reads stub.requests
                pass

        return Handler


def _asks_for_code(body: dict) -> bool:
    """AIDE's draft, improve and debug prompts all ask for a single markdown code block."""
    text = " ".join(str(m.get("content") or "") for m in body.get("messages") or [])
    return "code block" in text
