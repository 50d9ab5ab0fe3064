"""What the log writer spends per record, in this process, stage by stage, for small chat
records like the ones bench/cpu_per_request.py sends (the same headers, the fake upstream's
answer, a priced model, a gateway key) on the configured database:

    prepare  the row fields, previews, estimate and cost (the journal thread)
    journal  the entries appended to a real journal, with its fdatasync (the journal thread)
    save     the database batch: rows, rollups, commit (the database thread)

    .venv/bin/python bench/log_writer_cost.py [--records 2000] [--rounds 5] [--image FILE]
        [--batch 200]

--image: each record sends that image (the same one each time, as bench/run.py does),
written ahead as the journal thread writes it, so save() costs what it costs an image
request (its LogImage row, its Blob known already). --batch: records per journal append and
per database transaction (the writer's LOG_BATCH_SIZE is 200; image traffic at ~50-200
requests/s fills only 10-40 in LOG_FLUSH_SECONDS, so per-batch costs weigh more there).

Best of the rounds, in µs of this thread's CPU per record (time.thread_time: robust on a
busy machine, unlike wall time). Compare two trees by running it in each. The writer's
threads in a serving process spend ~1.3x these (they share one core with the event loop:
cold caches), bench/cpu_per_request.py --threads shows those.
"""

import argparse
import base64
import gc
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

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from gateway.chat import parse_chat  # noqa: E402
from gateway.log import blobs, entry  # noqa: E402
from gateway.log.journal import Journal  # noqa: E402
from gateway.log.record import Record  # noqa: E402
from gateway.models import ApiKey  # noqa: E402

RAW = json.dumps(
    {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What is in it?"}]}],
    }
).encode()
HEADERS = {  # as bench/cpu_per_request.py sends them, after redaction
    "authorization": "[redacted]",
    "host": "127.0.0.1:39195",
    "x-portkey-custom-host": "http://127.0.0.1:34779/v1",
    "content-length": "108",
    "x-portkey-api-key": "[redacted]",
    "content-type": "application/json",
    "x-portkey-provider": "openai",
}
ANSWER = {  # bench/fake_upstream.py's
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {"role": "assistant", "content": "A cat.", "refusal": None},
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
}


def record(key_id: int, image: bytes | None = None) -> Record:
    r = Record(path="/v1/chat/completions", request_headers=dict(HEADERS), api_key_id=key_id)
    raw = RAW
    if image is not None:
        uri = "data:image/jpeg;base64," + base64.b64encode(image).decode()
        parts = [
            {"type": "text", "text": "What is in it?"},
            {"type": "image_url", "image_url": {"url": uri}},
        ]
        raw = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": parts}]})
        raw = raw.encode()
    r.chat, r.model, r.provider = parse_chat(raw), "gpt-4o", "openai"
    r.upstream_url = "http://127.0.0.1:34779/v1/chat/completions"
    r.finish(200, json.loads(json.dumps(ANSWER)))
    return r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--image", type=Path, help="an image each record sends")
    parser.add_argument("--batch", type=int, default=200, help="records per batch")
    args = parser.parse_args()
    image = args.image.read_bytes() if args.image else None
    call_command("migrate", verbosity=0)
    key_id = ApiKey.objects.create(name="writer-cost").pk
    # The collector as the server sets it (gateway/asgi.py's lifespan): what is loaded is
    # frozen, the thresholds are GATEWAY_GC_THRESHOLD. With Python's defaults the collections
    # (charged to whatever allocates) were a quarter of prepare's figure here, not the server's.
    gc.freeze()
    gc.set_threshold(*settings.GATEWAY_GC_THRESHOLD)
    journal = Journal(settings.LOG_SPOOL_DIR)
    best = {"prepare": float("inf"), "journal": float("inf"), "save": float("inf")}
    batch = args.batch
    for _ in range(args.rounds):
        records = [record(key_id, image) for _ in range(args.records)]
        started = time.thread_time()
        entries = [entry.prepare(r) for r in records]
        best["prepare"] = min(best["prepare"], time.thread_time() - started)
        for e in entries:  # the journal thread's part: image files written before save()
            e.blobs = blobs.write_ahead(e.blobs)
        started = time.thread_time()
        for i in range(0, len(entries), batch):
            journal.append(entries[i : i + batch])
        best["journal"] = min(best["journal"], time.thread_time() - started)
        journal.rotate()
        started = time.thread_time()
        for i in range(0, len(entries), batch):
            entry.save(entries[i : i + batch])
        best["save"] = min(best["save"], time.thread_time() - started)
    journal.close()
    per = 1e6 / args.records
    print(", ".join(f"{stage} {best[stage] * per:.1f}" for stage in best), "µs/record")


if __name__ == "__main__":
    main()
