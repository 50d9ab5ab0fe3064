"""A fast fake OpenAI upstream for the benchmark: raw asyncio, HTTP/1.1 keep-alive.

POST /v1/chat/completions answers a fixed chat.completion, or 50 SSE chunks when the body
asks for a stream. GET /stats reports how many requests arrived and the SHA-256 of the first
image URL (a data URI or an http URL) of the last request that had one, so the benchmark can
check that a gateway really forwarded the image byte-identical before timing it. The body is
only searched and hashed when /stats asks (hashing an 11 MB body on each request would take
core time from the load generator beside it). Django or a thread-per-request server would be the
bottleneck here; this answers tens of thousands of small requests a second on one core.
"""

import asyncio
import hashlib
import json
import re
import sys

COMPLETION = json.dumps(
    {
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
).encode()
CHUNK = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,'
    b'"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"word "},'
    b'"finish_reason":null}]}\n\n'
)
STREAM_CHUNKS = 50
STREAM_GAP = 0.002  # seconds between chunks, like a fast model
IMAGE = re.compile(rb'"url":\s*"((?:data:image/|https?:)[^"]+)"')

STREAM_TRUE = re.compile(rb'"stream"\s*:\s*true')
READ_LIMIT = 64 << 20  # the reader's buffer: big bodies arrive without pausing every 128 KB

stats = {"requests": 0}
last = {"image_body": b""}  # the last request body that names an image, searched on /stats


def image_stats() -> dict:
    match = IMAGE.search(last["image_body"])
    return {
        **stats,
        "last_image_sha256": hashlib.sha256(match[1]).hexdigest() if match else None,
        "last_image_prefix": match[1][:40].decode("latin-1") if match else None,
    }


def response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            if method == "GET" and path == "/stats":
                writer.write(response("200 OK", json.dumps(image_stats()).encode()))
            elif method == "POST" and path.endswith("/chat/completions"):
                stats["requests"] += 1
                if b'"image_url"' in body:
                    last["image_body"] = body
                if wants_stream(body):
                    await stream(writer)
                    continue
                writer.write(response("200 OK", COMPLETION))
            else:
                writer.write(response("404 Not Found", b"{}"))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def wants_stream(body: bytes) -> bool:
    """ "stream": true anywhere in the body, found without copying it (bytes.find is fast;
    a regex or a replace over an 11 MB image body is not)."""
    at = body.find(b'"stream"')
    while at >= 0:
        if STREAM_TRUE.match(body, at):
            return True
        at = body.find(b'"stream"', at + 1)
    return False


async def stream(writer: asyncio.StreamWriter) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    for _ in range(STREAM_CHUNKS):
        writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
        await writer.drain()
        await asyncio.sleep(STREAM_GAP)
    done = b"data: [DONE]\n\n"
    writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
    await writer.drain()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096, limit=READ_LIMIT)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
