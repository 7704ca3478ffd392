#!/usr/bin/python3
"""phi4-server end to end, over real sockets, with urllib/http.client only.

    test_server.py PHI4_SERVER MODEL.gguf

Starts the server (on a free port; --temp 0 by default) a few times with different
flags and checks the OpenAI and Ollama APIs, errors, concurrency, a client that
hangs up, and a clean shutdown on SIGTERM (exit status 0; under ASan that also means
no leaks). When the Python binding can load the library (PHI4_LIBRARY set: the plain
build), answers and prompt token counts are also compared with the library's own
chat(), chat_tokenize() and generate(). Scripted models (tests/ref/make_model.py
--script) make replies known in advance: a reasoning model's thinking, and a reply
that never ends, to hang up on mid-stream and to hold the only slot while the
queue fills."""
import glob
import http.client
import json
import os
import platform
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SERVER, MODEL = sys.argv[1], sys.argv[2]
FOX = [{"role": "system", "content": "You are terse."},
       {"role": "user", "content": "Tell me about the fox."}]
HELLO = [{"role": "user", "content": "Hello there"}]

# The library itself, when the binding can load it (not in a sanitized build).
library_model = None
if os.environ.get("PHI4_LIBRARY"):
    import phi4
    library_model = phi4.Model(MODEL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *flags, model=MODEL):
        self.log = tempfile.TemporaryFile(mode="w+")
        for _ in range(5):  # the port may be taken between free_port() and bind
            self.port = free_port()
            self.proc = subprocess.Popen(
                [SERVER, "-m", model, "--port", str(self.port), "-t", "1", "--temp", "0"] +
                list(flags), stderr=self.log)
            if self.wait_healthy():
                return
            self.proc.kill()
            self.proc.wait()
        raise AssertionError("server did not start:\n" + self.log_text())

    def wait_healthy(self):
        while self.proc.poll() is None:
            try:
                status, body = self.request("GET", "/health")
                return status == 200 and body["status"] == "ok"
            except OSError:
                time.sleep(0.1)
        return False

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)

    def request(self, method, path, body=None, raw=None, headers=None):
        """(status, parsed JSON body) of one request."""
        conn = self.connection()
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        text = resp.read()
        conn.close()
        return resp.status, json.loads(text)

    def stream(self, path, body):
        """(status, content type, body lines) of a streamed request."""
        conn = self.connection()
        conn.request("POST", path, body=json.dumps(body).encode())
        resp = conn.getresponse()
        lines = resp.read().decode().split("\n")
        conn.close()
        return resp.status, resp.getheader("Content-Type"), lines

    def log_text(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=300)
        log = self.log_text()
        assert rc == 0, f"exit status {rc} after SIGTERM; log:\n{log}"
        assert "phi4-server: stopping" in log, log
        return log


def sse_events(lines):
    """The JSON of each `data:` event, and whether [DONE] ended the stream."""
    events, done = [], False
    for line in lines:
        if not line:
            continue
        assert line.startswith("data: "), line
        assert not done, "an event after [DONE]"
        if line == "data: [DONE]":
            done = True
        else:
            events.append(json.loads(line[6:]))
    return events, done


def chat(srv, messages, **fields):
    status, body = srv.request("POST", "/v1/chat/completions", {"messages": messages, **fields})
    assert status == 200, body
    return body


def stream_chat(srv, messages, **fields):
    status, ctype, lines = srv.stream("/v1/chat/completions",
                                      {"messages": messages, "stream": True, **fields})
    assert status == 200 and ctype == "text/event-stream", (status, ctype)
    events, done = sse_events(lines)
    assert done, "no data: [DONE]"
    for e in events:
        assert e["object"] == "chat.completion.chunk" and len(e["choices"]) == 1, e
    first, last = events[0], events[-1]
    assert first["choices"][0]["delta"]["role"] == "assistant", first
    for e in events[:-1]:
        assert e["choices"][0]["finish_reason"] is None, e
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    return text, last


def test_openai_chat(srv):
    body = chat(srv, FOX, max_tokens=24, seed=1)
    msg, usage = body["choices"][0]["message"], body["usage"]
    content = msg["content"]
    assert body["object"] == "chat.completion" and msg["role"] == "assistant", body
    assert body["model"] == "model", body
    assert len(content) > 10, "the test model should say something: " + repr(content)
    assert body["choices"][0]["finish_reason"] == "length", body
    assert usage["completion_tokens"] == 24, usage
    assert usage["total_tokens"] == usage["prompt_tokens"] + 24, usage
    if library_model:
        assert usage["prompt_tokens"] == len(library_model.chat_tokenize(FOX)), usage
        assert content == library_model.chat(FOX, temperature=0, max_tokens=24), content
    # The same request again (the slot keeps the conversation's tokens) and
    # streamed: the same text, the same counts.
    assert chat(srv, FOX, max_tokens=24, seed=1)["choices"][0]["message"]["content"] == content
    text, last = stream_chat(srv, FOX, max_tokens=24, seed=1)
    assert text == content, (text, content)
    assert last["choices"][0]["finish_reason"] == "length" and last["usage"] == usage, last
    # A model name in any accepted spelling.
    for name in ["model", "model:latest", "libphi4 test phi4-like q8_0 seed 2", ""]:
        assert chat(srv, FOX, max_tokens=24, model=name)["choices"][0]["message"]["content"] == content
    # max_completion_tokens is max_tokens' newer name.
    short = chat(srv, FOX, max_completion_tokens=3)
    assert short["usage"]["completion_tokens"] == 3 and short["choices"][0]["finish_reason"] == "length"
    return content


def test_stop(srv, content):
    # A stop string from the middle of the answer: the text ends before it.
    cut = len(content) // 2
    stop = content[cut:cut + 3]
    expected = content[:content.index(stop)]
    for stops in [stop, ["never appears", stop]]:
        body = chat(srv, FOX, max_tokens=24, stop=stops)
        assert body["choices"][0]["message"]["content"] == expected, (body, expected)
        assert body["choices"][0]["finish_reason"] == "stop", body
        text, last = stream_chat(srv, FOX, max_tokens=24, stop=stops)
        assert text == expected and last["choices"][0]["finish_reason"] == "stop", (text, last)


def test_completions(srv):
    prompt = "The quick brown fox"
    status, body = srv.request("POST", "/v1/completions", {"prompt": prompt, "max_tokens": 12})
    assert status == 200 and body["object"] == "text_completion", body
    text = body["choices"][0]["text"]
    assert body["usage"]["completion_tokens"] == 12 and body["choices"][0]["finish_reason"] == "length"
    if library_model:
        assert body["usage"]["prompt_tokens"] == len(library_model.tokenize(prompt, add_bos=True))
        ids = library_model.tokenize(prompt, add_bos=True)
        assert text == library_model.generate(ids, temperature=0, max_tokens=12), text
    status, ctype, lines = srv.stream("/v1/completions",
                                      {"prompt": prompt, "max_tokens": 12, "stream": True})
    events, done = sse_events(lines)
    assert status == 200 and done and ctype == "text/event-stream"
    assert "".join(e["choices"][0]["text"] for e in events) == text
    assert events[-1]["choices"][0]["finish_reason"] == "length"
    # Ollama's raw generate is the same continuation.
    status, body = srv.request("POST", "/api/generate", {"prompt": prompt, "raw": True,
                                                        "stream": False,
                                                        "options": {"num_predict": 12}})
    assert status == 200 and body["response"] == text, body


def ndjson(lines):
    return [json.loads(line) for line in lines if line]


def test_ollama(srv, content):
    req = {"model": "model", "messages": FOX, "options": {"num_predict": 24, "seed": 1}}
    status, ctype, lines = srv.stream("/api/chat", req)  # stream is on by default
    objs = ndjson(lines)
    assert status == 200 and ctype == "application/x-ndjson", (status, ctype)
    assert all(not o["done"] and o["model"] == "model" and o["message"]["role"] == "assistant"
               and o["created_at"].endswith("Z") for o in objs[:-1]), objs
    final = objs[-1]
    assert final["done"] and final["done_reason"] == "length", final
    assert "".join(o["message"]["content"] for o in objs) == content
    assert final["eval_count"] == 24 and final["prompt_eval_count"] > 0, final
    for key in ["total_duration", "prompt_eval_duration", "eval_duration", "load_duration"]:
        assert isinstance(final[key], int) and final[key] >= 0, (key, final)
    status, body = srv.request("POST", "/api/chat", dict(req, stream=False))
    assert status == 200 and body["done"] and body["message"]["content"] == content, body
    assert body["prompt_eval_count"] == final["prompt_eval_count"] and body["eval_count"] == 24

    # /api/generate with a system and a prompt is that chat.
    gen = {"prompt": FOX[1]["content"], "system": FOX[0]["content"],
           "options": {"num_predict": 24}}
    status, ctype, lines = srv.stream("/api/generate", gen)
    objs = ndjson(lines)
    assert objs[-1]["done"] and objs[-1]["done_reason"] == "length", objs[-1]
    assert "".join(o["response"] for o in objs) == content
    status, body = srv.request("POST", "/api/generate", dict(gen, stream=False))
    assert status == 200 and body["response"] == content, body
    # An empty prompt only "loads" the model.
    status, body = srv.request("POST", "/api/generate", {"model": "model"})
    assert status == 200 and body["done"] and body["done_reason"] == "load", body

    status, tags = srv.request("GET", "/api/tags")
    assert status == 200 and len(tags["models"]) == 1, tags
    m = tags["models"][0]
    assert m["name"] == "model" and m["size"] == os.path.getsize(MODEL), m
    assert m["details"]["format"] == "gguf" and m["details"]["family"] == "phi3", m
    status, version = srv.request("GET", "/api/version")
    assert status == 200 and version["version"], version
    status, models = srv.request("GET", "/v1/models")
    assert status == 200 and models["object"] == "list", models
    assert [d["id"] for d in models["data"]] == ["model"], models


def expect_error(srv, status, path, body=None, raw=None, method="POST", headers=None,
                 mentions=None):
    got, err = srv.request(method, path, body, raw, headers)
    assert got == status, (got, err, path)
    if path.startswith("/api/"):
        message = err["error"]
        assert isinstance(message, str), err
    else:
        message = err["error"]["message"]
        assert set(err["error"]) == {"message", "type", "code"}, err
    assert not mentions or mentions in message, (message, mentions)
    return err


def test_errors(srv):
    chat_path = "/v1/chat/completions"
    err = expect_error(srv, 400, chat_path, raw=b'{"messages": [}', mentions="column 15")
    assert err["error"]["code"] == "invalid_json", err
    expect_error(srv, 400, "/api/chat", raw=b'{"messages": [}', mentions="not valid JSON")
    expect_error(srv, 400, chat_path, raw=b'[1]', mentions="JSON object")
    expect_error(srv, 400, chat_path, {"model": "model"}, mentions='"messages" is required')
    expect_error(srv, 400, "/api/chat", {}, mentions='"messages" is required')
    expect_error(srv, 400, chat_path, {"messages": []}, mentions="non-empty array")
    expect_error(srv, 400, chat_path, {"messages": [{"role": "robot", "content": "x"}]},
                 mentions="messages[0]")
    expect_error(srv, 400, chat_path, {"messages": HELLO, "temperature": "hot"},
                 mentions='"temperature" must be a number')
    expect_error(srv, 400, chat_path, {"messages": HELLO, "max_tokens": -1},
                 mentions='"max_tokens"')
    expect_error(srv, 400, "/v1/completions", {"max_tokens": 1}, mentions='"prompt" is required')
    err = expect_error(srv, 404, chat_path, {"messages": HELLO, "model": "gpt-4"},
                       mentions='"gpt-4" not found')
    assert err["error"]["code"] == "model_not_found"
    expect_error(srv, 404, "/api/chat", {"messages": HELLO, "model": "llama3"},
                 mentions="not found")
    expect_error(srv, 404, "/v1/nothing", {}, mentions="no route")
    expect_error(srv, 404, "/api/nothing", method="GET")
    expect_error(srv, 405, chat_path, method="GET", mentions="not allowed")
    expect_error(srv, 405, "/api/tags", {}, mentions="not allowed")
    expect_error(srv, 413, chat_path, raw=b'{"messages": "' + b"x" * 5000 + b'"}',
                 mentions="exceeds the limit of 4096 bytes")
    # A chunked request body: refused, cleanly.
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
        reply = s.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 501 "), reply
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]["message"].startswith("chunked")
    # No Content-Length on a POST; a malformed request line; a bare LF.
    for raw_request, status in [(b"POST /v1/completions HTTP/1.1\r\n\r\n", b"411"),
                                (b"GET  / HTTP/1.1\r\n\r\n", b"400"),
                                (b"GET /health HTTP/1.1\nHost: x\r\n\r\n", b"400"),
                                (b"GET /health HTTP/2.0\r\n\r\n", b"505")]:
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.sendall(raw_request)
            reply = s.makefile("rb").read()
        assert reply.startswith(b"HTTP/1.1 " + status + b" "), (raw_request, reply)
    # The server still answers.
    assert srv.request("GET", "/health")[0] == 200


def test_parallel(srv):
    """Four clients at once over two slots: each gets the single-client answer."""
    requests = [(FOX, 20), (HELLO, 20), (FOX, 20), (HELLO, 20)]
    alone = {id(m): chat(srv, m, max_tokens=n)["choices"][0]["message"]["content"]
             for m, n in requests}
    results, errors = [None] * len(requests), []

    def run(i, messages, n):
        try:
            results[i] = chat(srv, messages, max_tokens=n)["choices"][0]["message"]["content"]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    for _ in range(2):
        threads = [threading.Thread(target=run, args=(i, m, n)) for i, (m, n) in enumerate(requests)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert results == [alone[id(m)] for m, _ in requests], results


def wait_processing(srv, n):
    """Poll /health until n slots are generating (no time limit: the suite's timeout is one)."""
    while srv.request("GET", "/health")[1]["slots_processing"] != n:
        time.sleep(0.05)


# A prompt that takes the slow model seconds to evaluate: long enough to act on a
# running request by looking at /health, not by timing.
LONG = [{"role": "user", "content": "The quick brown fox jumps over the lazy dog. " * 100}]


def test_hang_up(srv):
    """With one slot: a client leaves while its request runs; the generation is
    interrupted, and the next request gets the slot."""
    body = json.dumps({"messages": LONG, "stream": True, "max_tokens": 0}).encode()
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body)
                  + body)
        wait_processing(srv, 1)
    body = chat(srv, HELLO, max_tokens=4)
    assert body["usage"]["completion_tokens"] == 4, body
    # The log is complete once the server has stopped (each line follows its response;
    # the slot is freed before, so the two lines may come in either order).
    lines = [l for l in srv.stop().splitlines() if "POST /v1/chat/completions" in l]
    cancelled = [l for l in lines if l.endswith(" cancelled")]
    assert len(lines) == 2 and len(cancelled) == 1 and " 499 " in cancelled[0], lines


def test_shutdown_while_generating(srv):
    """SIGTERM while a request runs: it gets 503, the server exits 0."""
    result = []

    def run():
        result.append(srv.request("POST", "/api/chat", {"messages": LONG, "stream": False}))

    t = threading.Thread(target=run)
    t.start()
    wait_processing(srv, 1)
    srv.proc.send_signal(signal.SIGTERM)
    t.join()
    assert result[0] == (503, {"error": "the server is shutting down"}), result
    assert srv.proc.wait(timeout=300) == 0, srv.log_text()


THINKING, ANSWER = "hé", "Ok!"
LOOP = "Yes! "
# The endless model's context: its stream (about 170 bytes a token) must be able to
# outgrow any socket buffers (Linux's tcp_wmem allows 4 MiB by default).
LOOP_CTX = 131072


def scripted_models(directory):
    """(a Phi-4-reasoning that thinks THINKING and answers ANSWER, a model that says LOOP
    again and again until its LOOP_CTX-token context is full)"""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref"))
    import make_model
    reasoning, loop = os.path.join(directory, "reasoning"), os.path.join(directory, "loop")
    make_model.make_model("phi4-like", "q8_0", reasoning, seed=2, chat_template="phi4-reasoning",
                          context_length=2048, script=f"<think>{THINKING}</think>{ANSWER}")
    make_model.make_model("phi4-like", "q8_0", loop, seed=2, context_length=LOOP_CTX,
                          script=LOOP, script_loop=True)
    return os.path.join(reasoning, "model.gguf"), os.path.join(loop, "model.gguf")


def runs(pieces):
    """[(field, text)] with the texts of consecutive pieces of one field joined."""
    out = []
    for field, text in pieces:
        if out and out[-1][0] == field:
            out[-1] = (field, out[-1][1] + text)
        else:
            out.append((field, text))
    return out


def openai_deltas(srv, messages, **fields):
    """runs() of a streamed chat's deltas: content and reasoning_content."""
    status, ctype, lines = srv.stream("/v1/chat/completions",
                                      {"messages": messages, "stream": True, **fields})
    events, done = sse_events(lines)
    assert status == 200 and done, (status, lines)
    assert events[-1]["choices"][0]["finish_reason"] == "stop", events[-1]
    deltas = [e["choices"][0]["delta"] for e in events]
    assert deltas[0] == {"role": "assistant", "content": ""}, deltas[0]
    assert all(len(d) == 1 for d in deltas[1:-1]) and deltas[-1] == {}, deltas
    return runs(next(iter(d.items())) for d in deltas[1:-1])


def ollama_pieces(srv, path, request):
    """runs() of an Ollama stream's non-empty message/response fields."""
    status, ctype, lines = srv.stream(path, request)
    objs = ndjson(lines)
    assert status == 200 and objs[-1]["done"] and objs[-1]["done_reason"] == "stop", objs
    pieces = []
    for o in objs[:-1]:
        fields = o["message"] if path == "/api/chat" else o
        pieces += [(k, fields[k]) for k in ("thinking", "content", "response") if fields.get(k)]
    return runs(pieces)


def test_thinking(srv):
    """Thinking in reasoning_content / thinking, before and apart from the answer;
    Ollama's think false leaves it out."""
    msg = chat(srv, HELLO)["choices"][0]["message"]
    assert msg == {"role": "assistant", "reasoning_content": THINKING, "content": ANSWER}, msg
    deltas = openai_deltas(srv, HELLO)
    assert deltas == [("reasoning_content", THINKING), ("content", ANSWER)], deltas
    # Sampled, too: the script leads by far.
    hot = chat(srv, HELLO, temperature=2.0, top_k=0, top_p=1.0, seed=5)["choices"][0]["message"]
    assert hot == msg, hot

    for think in (True, None, False):  # None: the server's --think (show)
        req = {"messages": HELLO, **({} if think is None else {"think": think})}
        status, body = srv.request("POST", "/api/chat", dict(req, stream=False))
        want = {"role": "assistant", "content": ANSWER}
        if think is not False:
            want["thinking"] = THINKING
        assert status == 200 and body["message"] == want, (think, body)
        pieces = ollama_pieces(srv, "/api/chat", req)
        assert pieces == ([("thinking", THINKING)] if think is not False else []) + \
            [("content", ANSWER)], (think, pieces)
    # /api/generate with a prompt is a chat too: response and thinking.
    gen = {"prompt": "Hello there", "think": True}
    status, body = srv.request("POST", "/api/generate", dict(gen, stream=False))
    assert status == 200 and (body["response"], body["thinking"]) == (ANSWER, THINKING), body
    pieces = ollama_pieces(srv, "/api/generate", gen)
    assert pieces == [("thinking", THINKING), ("response", ANSWER)], pieces
    # A raw continuation is plain text: the tag stays in it. ("h" is a token of the
    # script: the model goes on from there.)
    status, body = srv.request("POST", "/v1/completions", {"prompt": "h"})
    assert status == 200 and body["choices"][0]["text"] == f"é</think>{ANSWER}", body
    srv.stop()


def test_thinking_hidden(srv):
    """--think hide: no thinking unless a request asks for it (Ollama's think)."""
    assert chat(srv, HELLO)["choices"][0]["message"] == {"role": "assistant", "content": ANSWER}
    deltas = openai_deltas(srv, HELLO)
    assert deltas == [("content", ANSWER)], deltas
    status, body = srv.request("POST", "/api/chat", {"messages": HELLO, "stream": False})
    assert status == 200 and body["message"] == {"role": "assistant", "content": ANSWER}, body
    status, body = srv.request("POST", "/api/chat",
                               {"messages": HELLO, "stream": False, "think": True})
    assert status == 200 and body["message"]["thinking"] == THINKING, body
    srv.stop()


def post_raw(srv, path, body, rcvbuf=None):
    """A socket that has sent a POST of body (JSON); rcvbuf: its SO_RCVBUF, set before
    connecting so that the TCP window stays that small."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", srv.port))
    data = json.dumps(body).encode()
    s.sendall(b"POST %s HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (path.encode(), len(data))
              + data)
    return s


def read_head(s):
    """Read up to the end of a response head (and perhaps a little more); its status."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(256)
        assert chunk, got
        got += chunk
    return int(got.split(b" ", 2)[1])


def read_reply(s):
    """(status, parsed JSON body) of a whole response (the server closes after it)."""
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    head, body = got.split(b"\r\n\r\n", 1)
    return int(head.split(b" ", 2)[1]), json.loads(body)


# sendto(2), the system call send() makes, on the machines this runs on
SENDTO = {"x86_64": 44, "aarch64": 206}.get(platform.machine())


def wait_blocked_sending(srv):
    """Poll until a thread of the server sleeps in sendto: its socket buffer is full
    (Linux /proc; the suite's timeout is the limit)."""
    while True:
        for task in glob.glob(f"/proc/{srv.proc.pid}/task/*"):
            try:
                with open(task + "/syscall") as f:
                    call = f.read().split()
                with open(task + "/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:  # the thread ended
                continue
            if call and call[0] == str(SENDTO) and state == "S":
                return
        time.sleep(0.05)


def stream_held(srv):
    """A streamed chat on the endless model whose client reads its head, then nothing
    more: the server blocks sending it, and holds the slot."""
    s = post_raw(srv, "/v1/chat/completions", {"messages": HELLO, "stream": True}, rcvbuf=4096)
    assert read_head(s) == 200
    wait_processing(srv, 1)
    wait_blocked_sending(srv)
    return s


def test_hang_up_mid_stream(srv):
    """With one slot: a client leaves mid-stream while the server is blocked sending
    to it; the failed send cancels the generation, the next request gets the slot."""
    stream_held(srv).close()  # unread data: the close resets the connection
    body = chat(srv, HELLO, max_tokens=4)  # LOOP is four tokens
    assert body["choices"][0]["message"]["content"] == LOOP, body
    # (The two lines may come in either order: the slot is freed before the log line.)
    lines = [l for l in srv.stop().splitlines() if "POST /v1/chat/completions" in l]
    cancelled = [l for l in lines if l.endswith(" cancelled")]
    assert len(lines) == 2 and len(cancelled) == 1 and " 200 " in cancelled[0], lines
    assert int(cancelled[0].split("completion=")[1].split()[0]) > 100, lines  # mid-stream
    assert all(" 200 " in l for l in lines), lines


QUEUE_PER_SLOT = 4  # examples/server/main.c (README: "Up to 4N more wait for a slot")


def test_queue_full(srv):
    """With one slot held: QUEUE_PER_SLOT requests wait, the next one gets 503 with a
    JSON error (on either API); when the slot is free, the waiting ones are answered."""
    holder = stream_held(srv)
    request = {"messages": HELLO, "max_tokens": 3}
    # One more than the queue holds: whichever comes last to the queue is refused
    # at once, the others wait (no timing: nothing else can answer them).
    waiting = [post_raw(srv, "/v1/chat/completions", request) for _ in range(QUEUE_PER_SLOT + 1)]
    ready = select.select(waiting, [], [], 300)[0]  # a watchdog, not a measurement
    assert len(ready) == 1, f"{len(ready)} of {len(waiting)} requests answered, not one 503"
    refused = ready[0]
    waiting.remove(refused)
    status, err = read_reply(refused)
    assert status == 503 and err["error"]["type"] == "server_busy", (status, err)
    assert err["error"]["message"] == ("all 1 slots are busy and 4 requests wait already; "
                                       "try again later"), err
    status, err = read_reply(post_raw(srv, "/api/chat", request))
    assert status == 503 and "4 requests wait already" in err["error"], (status, err)
    assert not select.select(waiting, [], [], 0)[0], "a waiting request was answered"
    holder.close()
    for s in waiting:
        status, body = read_reply(s)
        assert status == 200 and body["choices"][0]["message"]["content"] == "Yes!", body
    log = srv.stop()
    lines = [l for l in log.splitlines() if "phi4-server: POST" in l]
    assert sorted(l.split()[3] for l in lines) == ["200"] * 5 + ["503"] * 2, lines
    assert sum(l.endswith(" cancelled") for l in lines) == 1, lines


def slow_model(directory):
    """A wider phi4-like model with a 4096-token context, so a long prompt runs for a
    while (tests/ref/make_model.py, with one more config)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref"))
    import make_model
    make_model.CONFIGS["slow"] = dict(make_model.CONFIGS["phi4-like"], n_embd=512, n_ff=1024,
                                      n_layer=4, n_head=16, n_head_kv=4, context_length=4096,
                                      orig_ctx=4096)
    make_model.make_model("slow", "q8_0", directory, seed=2)
    return os.path.join(directory, "model.gguf")


def with_server(test, *flags, model=MODEL):
    """Run test(server) on a fresh server; return what it returns."""
    srv = Server(*flags, model=model)
    try:
        return test(srv)
    finally:
        srv.proc.kill()
        print(srv.log_text())


def main():
    def openai_and_ollama(srv):
        content = test_openai_chat(srv)
        test_stop(srv, content)
        test_completions(srv)
        test_ollama(srv, content)
        test_errors(srv)
        srv.stop()

    with_server(openai_and_ollama, "--max-body", "4096")
    with_server(lambda srv: (test_parallel(srv), srv.stop()), "--parallel", "2")
    print("ok: parallel")
    with tempfile.TemporaryDirectory(prefix="phi4-slow-") as d:
        slow = slow_model(d)
        with_server(test_hang_up, "--parallel", "1", model=slow)
        print("ok: hang up")
        with_server(test_shutdown_while_generating, model=slow)
    with tempfile.TemporaryDirectory(prefix="phi4-scripted-") as d:
        reasoning, loop = scripted_models(d)
        with_server(test_thinking, model=reasoning)
        with_server(test_thinking_hidden, "--think", "hide", model=reasoning)
        print("ok: thinking")
        if SENDTO is None:
            print(f"SKIP: mid-stream hang-up and full queue (sendto's number on "
                  f"{platform.machine()} unknown)")
        else:
            loop_flags = ["--parallel", "1", "-c", str(LOOP_CTX)]
            with_server(test_hang_up_mid_stream, *loop_flags, model=loop)
            print("ok: hang up mid-stream")
            with_server(test_queue_full, *loop_flags, model=loop)
            print("ok: queue full")
    print("ok: all")


if __name__ == "__main__":
    main()
