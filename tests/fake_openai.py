"""A fake OpenAI-compatible server: real HTTP on loopback, speaking `/v1/chat/completions` (with
`response_format` JSON schemas) and `/v1/images/generations`, with faults to order."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def embed(text: str, width: int = 1024) -> list[float]:
    """A deterministic vector of a text: its first word decides most of it, so keywords that
    start alike are close (cosine above 0.9) and others far apart (below 0.2)."""
    words = text.lower().split() or [""]
    vector = [0.0] * width
    for n, word in enumerate(words):
        digest = hashlib.sha256(word.encode()).digest()
        for k in range(4):  # four places a word, so two words rarely share them all
            vector[int.from_bytes(digest[2 * k : 2 * k + 2], "big") % width] += (
                3.0 if n == 0 else 0.35
            )
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


class FakeOpenAI:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # {"path", "name", "auth", "messages"}
        self.faults: list[
            tuple[str, str]
        ] = []  # (applies to: "any"/"chat"/schema name, kind), used in order
        self.doomed: dict[str, list[str]] = {}  # prompt text -> faults, repeated forever
        self.doomed_calls: dict[str, int] = {}
        self.refuse_key = False
        self.refuse_articles = False
        self.titles = 0
        self.embeddings_missing = False  # answer 404 for /v1/embeddings, as chat-only servers do
        self.long_articles = 0  # articles answered at twice the asked length, before obeying
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault(self, kind: str, count: int = 1, on: str = "any") -> None:
        with self.lock:
            self.faults.extend([(on, kind)] * count)

    def doom(self, text: str, cycle: list[str]) -> None:
        """Every request whose prompt contains `text` gets the next fault of `cycle`, forever."""
        with self.lock:
            self.doomed[text] = cycle
            self.doomed_calls[text] = 0

    def _take_fault(self, name: str, prompt: str = "") -> str | None:
        with self.lock:
            for text, cycle in self.doomed.items():
                if text in prompt:
                    self.doomed_calls[text] += 1
                    return cycle[(self.doomed_calls[text] - 1) % len(cycle)]
            for i, (on, kind) in enumerate(self.faults):
                if on in ("any", name) or (on == "chat" and name != "image"):
                    del self.faults[i]
                    return kind
        return None

    # --- answers ------------------------------------------------------------------------------

    def answer(self, name: str, prompt: str) -> dict:
        if name == "clusters":
            keywords = json.loads(
                re.search(
                    r"Keywords to group, as JSON objects with their ids:\n(\[.*?\])\n", prompt, re.S
                ).group(1)
            )
            existing_text = re.search(
                r"join one by its id when a keyword belongs there\):\n(.*?)\n\n", prompt, re.S
            )
            existing = (
                json.loads(existing_text.group(1))
                if existing_text and existing_text.group(1).startswith("[")
                else []
            )
            by_head = {c["name"].split()[0]: c["id"] for c in existing}
            groups: dict[str, list[int]] = {}
            names: dict[str, str] = {}
            for k in keywords:
                head = k["keyword"].split()[0]
                groups.setdefault(head, []).append(k["id"])
                names.setdefault(head, k["keyword"])
            return {
                "clusters": [
                    {"name": names[h], "existing_cluster_id": by_head.get(h), "keyword_ids": ids}
                    for h, ids in groups.items()
                ]
            }
        if name == "cluster_names":
            listing = json.loads(
                re.search(r"with their numbers and keywords:\n(\[.*?\])\n", prompt, re.S).group(1)
            )
            return {"names": [{"group": g["group"], "name": g["keywords"][0]} for g in listing]}
        if name == "ideas":
            count = int(re.search(r"Suggest (\d+) article ideas", prompt).group(1))
            cluster = re.search(r'topic cluster "(.*?)"', prompt).group(1)
            ideas = []
            for kind in ["guide", "how-to", "listicle", "comparison", "faq"][:count] + [
                "guide"
            ] * max(0, count - 5):
                with self.lock:
                    self.titles += 1
                    n = self.titles
                ideas.append(
                    {
                        "title": f"{cluster.title()}: idea {n}",
                        "structure": kind,
                        "outline": [f"Section {i} of {cluster}" for i in range(1, 7)],
                        "target_keywords": [cluster],
                    }
                )
            return {"ideas": ideas}
        if name == "article":
            words = int(re.search(r"Write about (\d+) words", prompt).group(1))
            with self.lock:
                if self.long_articles > 0:
                    self.long_articles -= 1
                    words *= 2
            title = re.search(r"Title: (.*)", prompt).group(1)
            body = " ".join(["Real words from a real model about the topic."] * (words // 9))
            return {
                "html": f"<p>Intro to {title}.</p><h2>Part one</h2><p>{body}</p>"
                "<h2>Part two</h2><p>Second part.</p><h2>Conclusion</h2><p>Done.</p>",
                "title": f"{title} (rewritten)" if "A reviewer asked" in prompt else title,
                "meta_title": title[:60],
                "meta_description": f"All about {title}"[:160],
            }
        if name == "image_prompts":
            listed = prompt.split("each with the text under its heading:\n", 1)[1]
            headings = re.findall(r"^\d+\. (.*?): ", listed.split("\n\n", 1)[0], re.M)
            return {
                "prompts": [
                    {
                        "kind": "featured",
                        "section": "",
                        "prompt": "A bright garden photo",
                        "alt": "A sunny vegetable garden",
                    }
                ]
                + [
                    {
                        "kind": "in_article",
                        "section": heading,
                        "prompt": f"Detail photo of {heading}",
                        "alt": f"A close view of {heading.lower()}",
                    }
                    for heading in reversed(headings)  # any order: the provider sorts them
                ]
            }
        raise ValueError(name)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(
                    self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"
                )
                image = self.path.endswith("/images/generations")
                embeddings = self.path.endswith("/embeddings")
                name = (
                    "image"
                    if image
                    else "embeddings"
                    if embeddings
                    else body.get("response_format", {}).get("json_schema", {}).get("name", "")
                )
                messages = body.get("messages", [])
                with fake.lock:
                    fake.requests.append(
                        {
                            "path": self.path,
                            "name": name,
                            "auth": self.headers.get("Authorization"),
                            "messages": messages,
                            "body": body,
                            "at": time.monotonic(),
                        }
                    )
                if fake.refuse_key:
                    return self._send(
                        401,
                        {
                            "error": {
                                "message": "Incorrect API key provided: sk-te****",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                prompt_text = next((m["content"] for m in messages if m.get("role") == "user"), "")
                fault = fake._take_fault(name, prompt_text)
                if fault == "429":
                    return self._send(
                        429,
                        {"error": {"message": "Rate limit reached", "type": "requests"}},
                        {"Retry-After": "0.3"},
                    )
                if fault == "500":
                    return self._send(
                        500,
                        {"error": {"message": "The server had an error"}},
                        {"retry-after-ms": "5"},
                    )
                if fault == "timeout":
                    time.sleep(2.5)
                    return self._send(500, {"error": {"message": "too late"}})
                if embeddings:
                    if fake.embeddings_missing:
                        return self._send(
                            404,
                            {"error": {"message": "404 page not found", "type": "not_found"}},
                        )
                    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    return self._send(
                        200,
                        {
                            "object": "list",
                            "model": body.get("model"),
                            "data": [
                                {"object": "embedding", "index": i, "embedding": embed(t)}
                                for i, t in enumerate(texts)
                            ],
                            "usage": {
                                "prompt_tokens": sum(len(t.split()) for t in texts),
                                "total_tokens": sum(len(t.split()) for t in texts),
                            },
                        },
                    )
                if name == "article" and fake.refuse_articles:
                    return self._send(
                        400,
                        {
                            "error": {
                                "message": "Your request was rejected as a result of our "
                                "safety system.",
                                "code": "content_policy_violation",
                            }
                        },
                    )
                if image:
                    picture = Image.new(
                        "RGB",
                        (192, 128) if body.get("size") == "1536x1024" else (128, 128),
                        (90, 140, 90),
                    )
                    out = io.BytesIO()
                    picture.save(out, format="PNG")
                    return self._send(
                        200,
                        {
                            "created": int(time.time()),
                            "data": [{"b64_json": base64.b64encode(out.getvalue()).decode()}],
                        },
                    )
                prompt = next(m["content"] for m in messages if m["role"] == "user")
                answer = fake.answer(name, prompt)
                if fault == "malformed":
                    content = '{"clusters": [ this is not json'
                elif fault == "drop" and name == "clusters":
                    answer["clusters"][0]["keyword_ids"] = answer["clusters"][0]["keyword_ids"][
                        1:
                    ] or [-1]
                    content = json.dumps(answer)
                elif fault == "repeat" and name == "clusters":
                    first = answer["clusters"][0]["keyword_ids"][0]
                    answer["clusters"][-1]["keyword_ids"].append(first)
                    content = json.dumps(answer)
                else:
                    content = json.dumps(answer)
                self._send(
                    200,
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content},
                            }
                        ],
                        "usage": {
                            "prompt_tokens": len(prompt) // 4,
                            "completion_tokens": len(content) // 4,
                            "total_tokens": len(prompt) // 4 + len(content) // 4,
                        },
                    },
                )

        return Handler
