"""What the SQLite search and metadata triggers (migration 0016) cost the log writer: CPU
seconds of entry.save per record, the triggers in place and dropped, in the same process.

    .venv/bin/python bench/log_search_write_cost.py [--records 2000] [--rounds 5]

Three kinds of record: a small chat ("Say hi.", three metadata keys), a 2,000-character
conversation, and one at the writer's 20,000-character search_text cap. Rounds alternate
with and without the triggers; best of the rounds, in µs of process CPU per record (CPU,
not wall time: the machine is shared). Also prints the database's size per record.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("IRIS_DATA_DIR", tempfile.mkdtemp(prefix="iris-search-cost-"))

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from gateway.chat import parse_chat  # noqa: E402
from gateway.log import entry  # noqa: E402
from gateway.log.record import Record  # noqa: E402

SEARCH = __import__("gateway.migrations.0016_log_search", fromlist=["FORWARD"])
WORDS = "the quick brown fox reads an invoice total of 42.10 EUR from a crumpled receipt "


def record(chars: int) -> Record:
    text = (WORDS * (chars // len(WORDS) + 1))[:chars] if chars else "Say hi."
    raw = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
    r = Record(path="/v1/chat/completions", request_headers={"content-type": "application/json"})
    r.chat, r.model, r.provider = parse_chat(raw), "gpt-4o-mini", "openai"
    r.metadata = {"env": "prod", "app": "ocr", "user": "u_4242"}
    answer = {"role": "assistant", "content": "Hello!"}
    r.finish(200, {"choices": [{"index": 0, "message": answer, "finish_reason": "stop"}]})
    return r


def _triggers(on: bool) -> None:
    with connection.cursor() as cursor:
        for statement in SEARCH.BACKWARD[:6]:
            cursor.execute(statement)
        if on:
            for statement in SEARCH.FORWARD[4:]:
                cursor.execute(statement)


def _cpu_per_record(chars: int, records: int) -> float:
    entries = [entry.prepare(record(chars)) for _ in range(records)]
    started = time.process_time()
    for i in range(0, len(entries), 200):  # the writer's batch size
        entry.save(entries[i : i + 200])
    return (time.process_time() - started) / records * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    assert connection.vendor == "sqlite", "the triggers are SQLite's"
    print(f"| search_text | triggers | CPU µs/record (best of {args.rounds}) | rows/s of CPU |")
    print("|---|---|---:|---:|")
    for chars in (0, 2_000, 20_000):
        best = {True: float("inf"), False: float("inf")}
        for _ in range(args.rounds):
            for on in (False, True):
                _triggers(on)
                best[on] = min(best[on], _cpu_per_record(chars, args.records))
        for on in (False, True):
            label = f"{chars:,} chars" if chars else "7 chars"
            print(f"| {label} | {'on' if on else 'off'} | {best[on]:.0f} | {1e6 / best[on]:,.0f} |")
    _triggers(True)


if __name__ == "__main__":
    main()
