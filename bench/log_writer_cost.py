"""What the log writer spends per record, in this process: prepare (row fields, previews,
outputs) and save (the database batch), for small chat records on the configured database.

    .venv/bin/python bench/log_writer_cost.py [--records 2000] [--rounds 5]

Best of the rounds, in µs per record. Compare two trees by running it in each.
"""

import argparse
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
from gateway.log import entry  # noqa: E402
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


def record() -> Record:
    r = Record(path="/v1/chat/completions", request_headers={"content-type": "application/json"})
    r.chat, r.model, r.provider = parse_chat(RAW), "gpt-4o-mini", "openai"
    r.finish(200, dict(ANSWER))
    return r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    best_prepare = best_save = float("inf")
    for _ in range(args.rounds):
        records = [record() for _ in range(args.records)]
        started = time.perf_counter()
        entries = [entry.prepare(r) for r in records]
        best_prepare = min(best_prepare, time.perf_counter() - started)
        started = time.perf_counter()
        for i in range(0, len(entries), 200):  # the writer's batch size
            entry.save(entries[i : i + 200])
        best_save = min(best_save, time.perf_counter() - started)
    per = 1e6 / args.records
    print(f"prepare {best_prepare * per:.1f} µs/record, save {best_save * per:.1f} µs/record")


if __name__ == "__main__":
    main()
