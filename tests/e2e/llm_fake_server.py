"""A scripted OpenAI-compatible server for the LLM tests.

Speaks POST /v1/chat/completions (plain and streamed as Server-Sent
Events) and POST /v1/embeddings. Each request takes the next step of a
script (a list of dicts); when the script is empty, `default` answers.
A step is one of:
  {"content": "text"}                 a completion with this content
  {"stream": ["chunk", ...]}          SSE chunks (for stream=true requests)
  {"status": 429, "retry_after": "0"} an error answer (any status)
  {"delay": 3.0, ...}                 wait first, then the rest of the step
  {"raw": "not json"}                 this body as is, status 200
  {"fn": callable}                    fn(request_json) -> step
  {"dims": 5}                         embeddings: vectors cut or padded
                                      to this many numbers
Embeddings are `embed(text)` for each input when `embed` is set, else
[len(text), 1.0, 0.5].
Every request's JSON body is kept in `requests`.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLM:
    def __init__(self, model="fake-7b"):
        self.model = model
        self.script = []
        self.requests = []
        self.default = None
        self.embed = None
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                try:
                    req = json.loads(body)
                except ValueError:
                    req = None
                with owner.lock:
                    owner.requests.append({"path": self.path, "body": req,
                                           "auth": self.headers.get(
                                               "Authorization")})
                    step = owner.script.pop(0) if owner.script else None
                if step is None:
                    step = owner.default(req) if owner.default else {
                        "content": "{}"}
                if "fn" in step:
                    step = step["fn"](req)
                owner.answer(self, req, step)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/v1" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def send(self, h, status, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else body.encode()
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        try:
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def answer(self, h, req, step):
        if step.get("delay"):
            time.sleep(step["delay"])
        if "status" in step:
            hdr = {}
            if "retry_after" in step:
                hdr["Retry-After"] = step["retry_after"]
            self.send(h, step["status"], json.dumps(
                {"error": {"message": step.get("message", "scripted error"),
                           "type": "test"}}), headers=hdr)
            return
        if "raw" in step:
            self.send(h, 200, step["raw"])
            return
        if h.path.endswith("/embeddings"):
            inputs = req["input"] if isinstance(req["input"], list) else [
                req["input"]]
            vecs = [self.embed(t) if self.embed else
                    [float(len(t)), 1.0, 0.5] for t in inputs]
            if "dims" in step:
                vecs = [(list(v) + [0.0] * step["dims"])[:step["dims"]]
                        for v in vecs]
            data = [{"index": i, "object": "embedding", "embedding": v}
                    for i, v in enumerate(vecs)]
            self.send(h, 200, json.dumps({"data": data, "model": self.model,
                                          "usage": {"prompt_tokens": 3}}))
            return
        if req and req.get("stream"):
            chunks = step.get("stream")
            if chunks is None:
                c = step.get("content", "")
                chunks = [c[i:i + 7] for i in range(0, len(c), 7)]
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Connection", "close")
            h.end_headers()
            try:
                for c in chunks:
                    ev = {"id": "x", "object": "chat.completion.chunk",
                          "model": self.model,
                          "choices": [{"index": 0, "delta": {"content": c},
                                       "finish_reason": None}]}
                    h.wfile.write(b"data: " + json.dumps(ev).encode() +
                                  b"\n\n")
                    h.wfile.flush()
                ev = {"id": "x", "model": self.model,
                      "choices": [{"index": 0, "delta": {},
                                   "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 11,
                                "completion_tokens": len(chunks)}}
                h.wfile.write(b"data: " + json.dumps(ev).encode() + b"\n\n")
                h.wfile.write(b"data: [DONE]\n\n")
                h.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            h.close_connection = True
            return
        self.send(h, 200, json.dumps({
            "id": "x", "object": "chat.completion", "model": self.model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant",
                                     "content": step.get("content", "")}}],
            "usage": {"prompt_tokens": 42, "completion_tokens": 7}}))


def answer(text, citations, claims):
    """The JSON an answering model gives."""
    return json.dumps({"answer": text, "citations": citations,
                       "claims": [{"statement": s, "citations": c}
                                  for s, c in claims]})
