"""What the log writer spends per record, in this process: prepare (row fields, previews,
outputs) and save (the database batch), for small chat records on the configured database.

    .venv/bin/python bench/log_writer_cost.py [--records 2000] [--rounds 5] [--image FILE]

--image: each record sends that image (the same one each time, as bench/run.py does),
written ahead as the journal thread writes it, so save() costs what it costs an image
request (its LogImage row, its Blob known already).

Best of the rounds, in µs of this thread's CPU per record (time.thread_time: robust on a
busy machine, unlike wall time). Compare two trees by running it in each.
"""

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("IRIS_DATA_DIR", tempfile.mkdtemp(prefix="iris-writer-cost-"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from gateway.chat import parse_chat  # noqa: E402
from gateway.log import blobs, entry  # noqa: E402
from gateway.log.record import Record  # noqa: E402

RAW = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hi."}]}'
ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}


def record(image: bytes | None = None) -> Record:
    r = Record(path="/v1/chat/completions", request_headers={"content-type": "application/json"})
    raw = RAW
    if image is not None:
        uri = "data:image/jpeg;base64," + base64.b64encode(image).decode()
        parts = [
            {"type": "text", "text": "Say hi."},
            {"type": "image_url", "image_url": {"url": uri}},
        ]
        raw = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": parts}]})
        raw = raw.encode()
    r.chat, r.model, r.provider = parse_chat(raw), "gpt-4o-mini", "openai"
    r.finish(200, dict(ANSWER))
    return r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--image", type=Path, help="an image each record sends")
    args = parser.parse_args()
    image = args.image.read_bytes() if args.image else None
    call_command("migrate", verbosity=0)
    best_prepare = best_save = float("inf")
    for _ in range(args.rounds):
        records = [record(image) for _ in range(args.records)]
        started = time.thread_time()
        entries = [entry.prepare(r) for r in records]
        best_prepare = min(best_prepare, time.thread_time() - started)
        for e in entries:  # the journal thread's part: image files written before save()
            e.blobs = blobs.write_ahead(e.blobs)
        started = time.thread_time()
        for i in range(0, len(entries), 200):  # the writer's batch size
            entry.save(entries[i : i + 200])
        best_save = min(best_save, time.thread_time() - started)
    per = 1e6 / args.records
    print(f"prepare {best_prepare * per:.1f} µs/record, save {best_save * per:.1f} µs/record")


if __name__ == "__main__":
    main()
