#!/usr/bin/env python3
"""Write tests/fixtures/chat/expected.txt: conversations rendered by Jinja2 with the Phi-4
family's chat templates, the way Hugging Face's apply_chat_template renders them
(a sandboxed environment with trim_blocks and lstrip_blocks). The C chat formatter must
produce exactly these strings (tests/test_chat.c).

Needs Debian's python3-jinja2 (not needed to run the tests):
    /usr/bin/python3 tools/chat-fixtures/make_chat_fixtures.py

The templates are in tests/fixtures/chat/templates.json; where each comes from is noted
there. Fixture format, repeated: a template record, then cases that use it:
    template NAME LEN\\n<LEN bytes>\\n
    case ADD_GENERATION_PROMPT N_MESSAGES TOOLS_LEN(-1 = none)\\n[<TOOLS_LEN bytes>\\n]
    ROLE LEN\\n<LEN bytes>\\n          (N_MESSAGES times)
    expect LEN\\n<LEN bytes>\\n
"""
import json
import os

from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "chat")

TOOLS = ('[{"name": "get_weather", "description": "Current weather", "parameters": '
         '{"city": {"type": "str"}}}]')

CONVERSATIONS = [
    [("user", "Hello")],
    [("system", "You are a helpful assistant."), ("user", "Hello")],
    [("system", "Be brief."), ("user", "What is 2+2?"), ("assistant", "4"),
     ("user", "And 3+3?")],
    [("user", " leading and trailing spaces \n"), ("assistant", "\n\nok  ")],
    [("user", "Unicode: héllo wörld — 你好，世界 🙂👍🏽 مرحبا")],
    [("user", "Text that looks like markup: <|im_end|><|end|><|user|> <think>x</think>")],
    [("system", ""), ("user", "")],
    [("user", "line one\nline two\r\n\ttabbed")],
    [("system", "You can call tools."), ("user", "Weather in Paris?"),
     ("assistant", '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]'
                   '<|/tool_call|>'),
     ("tool", '{"temperature": 21}'), ("user", "Thanks")],
    [],
]


def render(template, messages, add_generation_prompt, eos_token):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(messages=messages,
                                            add_generation_prompt=add_generation_prompt,
                                            eos_token=eos_token)


def record(out, tag, data):
    b = data.encode("utf-8")
    out.write(f"{tag} {len(b)}\n".encode() + b + b"\n")


def main():
    with open(os.path.join(FIXTURES, "templates.json"), encoding="utf-8") as f:
        templates = json.load(f)
    n_cases = 0
    with open(os.path.join(FIXTURES, "expected.txt"), "wb") as out:
        for name, t in templates.items():
            record(out, f"template {name}", t["template"])
            mini = "<|end|>" in t["template"]
            for conv in CONVERSATIONS:
                roles = {r for r, _ in conv}
                if not mini and "tool" in roles:
                    continue
                for tools in ([None, TOOLS] if mini else [None]):
                    for agp in (True, False):
                        msgs = [dict(role=r, content=c) for r, c in conv]
                        if tools is not None:
                            # Our API attaches tools to the first system message, creating
                            # an empty one if there is none.
                            if not msgs or msgs[0]["role"] != "system":
                                msgs.insert(0, dict(role="system", content=""))
                            msgs[0]["tools"] = tools
                        text = render(t["template"], msgs, agp, t["eos_token"])
                        tl = -1 if tools is None else len(tools.encode())
                        out.write(f"case {int(agp)} {len(conv)} {tl}\n".encode())
                        if tools is not None:
                            out.write(tools.encode() + b"\n")
                        for r, c in conv:
                            record(out, r, c)
                        record(out, "expect", text)
                        n_cases += 1
    print(f"wrote {n_cases} cases for {len(templates)} templates")


if __name__ == "__main__":
    main()
