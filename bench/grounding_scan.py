"""How long finding coordinates in an answer takes: a typical detection answer, the largest
one drawn (500 boxes), and texts built to make the JSON scan work hardest (cut-off lists,
deep nesting), each at MAX_TEXT characters. Run: .venv/bin/python bench/grounding_scan.py"""

import json
import time

from logs_ui.grounding import MAX_TEXT, ImageRef
from logs_ui.grounding_page import ground


def chat(text: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


def boxes(n: int) -> str:
    items = [
        {"box_2d": [i % 900, i % 800, i % 900 + 50, i % 800 + 90], "label": f"o{i % 7}"}
        for i in range(n)
    ]
    return "```json\n" + json.dumps(items) + "\n```"


CASES = {
    "10 boxes in a fence": boxes(10),
    "500 boxes in a fence": boxes(500),
    "no JSON, 200k chars of prose": ("A cat sits on a mat. " * 20_000)[:MAX_TEXT],
    "cut-off flat list '[' + '1, ' × 66k": ("[" + "1, " * 70_000)[:MAX_TEXT],
    "cut-off list of objects": ("[" + '{"a": 1, "b": [2]}, ' * 11_000)[:MAX_TEXT],
    "'[1,' × 66k (nested, too deep)": ("[1," * 70_000)[:MAX_TEXT],
    "'[' × 200k (too deep)": "[" * MAX_TEXT,
    "'{\"a\": [' × 28k (too deep)": ('{"a": [' * 30_000)[:MAX_TEXT],
}
IMAGES = [ImageRef(1, "Image", 1000, 800)]

for name, text in CASES.items():
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        found = ground(chat(text), {}, IMAGES)
        runs.append(time.perf_counter() - start)
    shapes = found.boxes + found.points
    print(f"{name:38} {len(text):>8,} chars  {shapes:>4} shapes  best {min(runs) * 1000:7.1f} ms")
