#!/usr/bin/python3
"""examples/editor/phi4.vim in a headless Vim against a fake phi4-server.

    test_editor.py PLUGIN.vim

The fake server records the request and answers as phi4-server does; the test checks
the request the plugin sends (route, JSON shape, instruction and text), that the lines
are replaced by the answer (a code fence around it removed), and that an error answer
leaves the text alone. Fails when there is no `vim` or `curl` (tools/bootstrap installs
them). What it does not run: Neovim, and the Visual-mode key binding (it calls the same function)."""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

PLUGIN = os.path.abspath(sys.argv[1])
if not shutil.which("vim") or not shutil.which("curl"):
    print("vim and curl are needed (tools/bootstrap installs them)")
    sys.exit(1)

requests = []
answers = []


class Fake(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        requests.append((self.path, self.headers["Content-Type"], json.loads(body)))
        status, reply = answers.pop(0)
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}"


def run_vim(text, command, **settings):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "in.txt")
        with open(path, "w") as f:
            f.write(text)
        lets = [f"let g:phi4_{k} = {json.dumps(v)}" for k, v in settings.items()]
        args = ["vim", "-N", "-u", "NONE", "-i", "NONE", "-n", "-es",
                "-c", f"let g:phi4_server = '{url}'"]
        messages = os.path.join(d, "messages.txt")
        save_messages = f"call writefile(split(execute('messages'), \"\\n\"), '{messages}')"
        for cmd in lets + [f"source {PLUGIN}", command, save_messages, "wq"]:
            args += ["-c", cmd]
        proc = subprocess.run(args + [path], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=120)
        with open(path) as f, open(messages) as m:
            return proc.returncode, f.read(), m.read()


def openai_answer(content):
    return 200, {"id": "chatcmpl-1", "object": "chat.completion",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                              "finish_reason": "stop"}]}


# Lines 2-3 rewritten; the answer's fence is dropped, quotes and a tab survive.
answers.append(openai_answer("```\nTWO \"2\"\n\tTHREE\n```"))
rc, out, log = run_vim("one\ntwo \"2\"\nthree\nfour\n", "2,3Phi4 Make it loud", max_tokens=64,
                       model="phi4-mini")
assert out == "one\nTWO \"2\"\n\tTHREE\nfour\n", (out, log)
path, ctype, req = requests.pop()
assert path == "/v1/chat/completions" and ctype == "application/json", (path, ctype)
assert req["model"] == "phi4-mini" and req["max_tokens"] == 64 and req["stream"] is False, req
assert [m["role"] for m in req["messages"]] == ["system", "user"], req
assert req["messages"][1]["content"] == "Make it loud\n\ntwo \"2\"\nthree", req

# The whole buffer, no model setting: no "model" field; nothing extra is left.
answers.append(openai_answer("a\nb"))
rc, out, log = run_vim("x\n", "%Phi4 Spell it out")
assert out == "a\nb\n", (out, log)
req = requests.pop()[2]
assert "model" not in req and req["messages"][1]["content"] == "Spell it out\n\nx", req

# An error from the server (OpenAI's shape): the text stays, the message is shown.
answers.append((404, {"error": {"message": "model \"x\" not found", "type": "invalid_request_error",
                                "code": "model_not_found"}}))
rc, out, log = run_vim("keep me\n", "Phi4 Change it", model="x")
assert out == "keep me\n", (out, log)
assert 'model "x" not found' in log, log
assert not answers and len(requests) == 1
server.shutdown()
print("ok: vim plugin")
