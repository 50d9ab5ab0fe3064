"""Config parity: the same Portkey configs through Iris and Portkey's gateway, on the same fakes.

    .venv/bin/python bench/config_parity.py [--skip-portkey]

Each target of a config is a fake upstream on a port of its own, so the call a fake records
says which target was tried: OpenAI-shaped ones (a, b, c: tests/fakes/openai.py answers) and
an Anthropic-shaped one (claude: tests/fakes/anthropic.py). A case cues failures (a 500, a 429
with retry-after, an answer slower than request_timeout) that a fake serves first, one per
call; later calls get the real fake's answer, which still checks the request. Every case runs
through both gateways, and the table compares the upstream call sequence, the final status and
the x-portkey-* response headers with the route Portkey's own code takes, which Iris must take
too unless the case says why not (bench/config_parity_cases.py). Writes
bench/results/config_parity.md.

Portkey runs from bench/portkey (`npm ci` there installs it). Only 127.0.0.1 is contacted.
"""

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from config_parity_cases import CASES, Case, Cue, expected  # noqa: E402

from tests.fakes import anthropic, openai  # noqa: E402
from tests.fakes.server import FakeServer, Received, Reply  # noqa: E402

PORTKEY = ROOT / "bench/portkey/node_modules/@portkey-ai/gateway/build/start-server.js"
RESULTS = ROOT / "bench/results/config_parity.md"
HEADERS = (
    "x-portkey-last-used-option-index",
    "x-portkey-retry-attempt-count",
    "x-portkey-cache-status",
)
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


@dataclass(frozen=True)
class Call:
    target: str
    kind: str
    path: str
    model: str
    at: float
    images: tuple[str, ...]  # sha256 of each image's bytes, first 8 digits

    def __str__(self) -> str:
        wrong_path = "" if self.path == PATHS[self.kind] else f" {self.path}!"
        images = "".join(f"+img:{sha}" for sha in self.images)
        return f"{self.target}:{self.model}{images}{wrong_path}"


class Upstreams:
    """The fakes, one per target name, with one call log in arrival order."""

    KINDS = {"a": "openai", "b": "openai", "c": "openai", "claude": "anthropic"}

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.cues: dict[str, deque[Cue]] = {name: deque() for name in self.KINDS}
        self.lock = threading.Lock()
        self.servers = {name: FakeServer(self._handler(name)) for name in self.KINDS}

    def __enter__(self) -> "Upstreams":
        for server in self.servers.values():
            server.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for server in self.servers.values():
            server.__exit__(*exc)

    def target(self, fake: str, /, **extra) -> dict:
        """A config target that reaches `fake` (extra: the target's own keys, name included)."""
        kind, url = self.KINDS[fake], self.servers[fake].url
        return {"provider": kind, "api_key": f"sk-fake-{fake}", "custom_host": f"{url}/v1", **extra}

    def reset(self, cues: dict[str, list[Cue]]) -> None:
        with self.lock:
            self.calls = []
            for name, queue in self.cues.items():
                queue.clear()
                queue.extend(cues.get(name, ()))

    def _handler(self, name: str) -> Callable[[Received], Reply]:
        kind = self.KINDS[name]
        real = openai.handle if kind == "openai" else anthropic.handle

        def handle(request: Received) -> Reply:
            try:
                body = request.json()
            except ValueError:
                body = {}
            call = Call(
                name, kind, request.path, body.get("model", "?"), time.monotonic(), _images(body)
            )
            with self.lock:
                self.calls.append(call)
                cue = self.cues[name].popleft() if self.cues[name] else None
            if cue is None:
                return real(request)
            time.sleep(cue.delay)
            if cue.status == 200:
                return real(request)
            return _error(kind, cue)

        return handle


def _error(kind: str, cue: Cue) -> Reply:
    message = f"cued {cue.status}"
    if kind == "anthropic":
        body = {"type": "error", "error": {"type": "api_error", "message": message}}
    else:
        body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return Reply.json(cue.status, body, **cue.headers)


def _images(body: dict) -> tuple[str, ...]:
    """The sha256 of each base64 image in an OpenAI or Anthropic body: did it arrive whole?"""
    found = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "image_url":
                data = part["image_url"]["url"].partition("base64,")[2]
            elif part.get("type") == "image" and part.get("source", {}).get("type") == "base64":
                data = part["source"]["data"]
            else:
                continue
            found.append(hashlib.sha256(base64.b64decode(data)).hexdigest()[:8])
    return tuple(found)


@dataclass
class Outcome:
    sequence: list[str]
    status: int
    headers: dict[str, str]
    gaps: list[float]  # seconds between consecutive upstream calls
    detail: str  # the error's start, or the stream's shape

    @property
    def route(self) -> tuple[list[str], int]:
        return (self.sequence, self.status)


@dataclass
class Gateway:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)


def run_case(gateway: Gateway, case: Case, upstreams: Upstreams) -> Outcome:
    upstreams.reset(case.cues)
    headers = {
        **gateway.headers,
        **case.headers,
        "x-portkey-config": json.dumps(case.config(upstreams.target)),
    }
    url = f"{gateway.url}/v1/chat/completions"
    for _ in range(case.repeat):
        with httpx.stream("POST", url, json=case.body, headers=headers, timeout=30) as response:
            body = response.read()
    # A fake answering after the gateway gave up (request_timeout) notes nothing more.
    calls = sorted(upstreams.calls, key=lambda c: c.at)
    if case.body.get("stream") and response.status_code == 200:
        events = [line for line in body.splitlines() if line.startswith(b"data:")]
        detail = f"{len(events)} SSE events, [DONE] {'sent' if b'[DONE]' in body else 'missing'}"
    else:
        detail = "" if response.status_code == 200 else body[:160].decode(errors="replace")
    return Outcome(
        [str(c) for c in calls],
        response.status_code,
        {name: response.headers.get(name, "-") for name in HEADERS},
        [round(b.at - a.at, 2) for a, b in zip(calls, calls[1:], strict=False)],
        detail,
    )


def start_iris(data_dir: Path) -> Gateway:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # a fresh SQLite
    env.update(
        IRIS_DATA_DIR=str(data_dir),
        GATEWAY_REQUIRE_API_KEY="false",
        GATEWAY_ALLOW_PRIVATE_NETWORKS="true",
        GATEWAY_RETRY_BASE_WAIT="0.05",  # Portkey waits 1 s, 2 s…: the route is compared, not time
        PYTHONUNBUFFERED="1",
    )
    log = open(data_dir / "iris.log", "a")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    gateway = Gateway("Iris", f"http://127.0.0.1:{port}", process=process)
    _wait_up(gateway, "/healthz")
    return gateway


def start_portkey(log_path: Path) -> Gateway:
    if not PORTKEY.exists():
        raise SystemExit("Portkey is not installed: run `npm ci` in bench/portkey")
    port = _free_port()
    log = open(log_path, "a")  # noqa: SIM115
    process = subprocess.Popen(
        ["node", str(PORTKEY), f"--port={port}", "--headless"],
        cwd=PORTKEY.parents[4],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    gateway = Gateway("Portkey", f"http://127.0.0.1:{port}", process=process)
    _wait_up(gateway, "/")
    return gateway


def _wait_up(gateway: Gateway, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert gateway.process is not None
        if gateway.process.poll() is not None:
            raise RuntimeError(f"{gateway.name} exited with {gateway.process.returncode}")
        try:
            if httpx.get(gateway.url + path, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{gateway.name} did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_all(gateways: list[Gateway], upstreams: Upstreams, cases=CASES) -> list[dict]:
    rows = []
    for case in cases:
        outcomes = {g.name: run_case(g, case, upstreams) for g in gateways}
        rows.append({"case": case, "outcomes": outcomes})
        print(_line(case, outcomes), flush=True)
    return rows


def _arrow(sequence: list[str]) -> str:
    return " → ".join(sequence) or "(none)"


def _line(case: Case, outcomes: dict[str, Outcome]) -> str:
    parts = [f"{case.name:52}"]
    for name, o in outcomes.items():
        marks = "" if o.route == expected(case, name) else " (NOT AS EXPECTED)"
        if o.gaps:
            marks += f" gaps {o.gaps} s"
        heads = " ".join(o.headers[h] for h in HEADERS)
        parts.append(f"{name}: {_arrow(o.sequence)} [{o.status}] {heads}{marks}")
    return "\n    ".join(parts)


def report(rows: list[dict], names: list[str]) -> str:
    out = [
        "# Config parity: Iris and Portkey's gateway on the same fakes",
        "",
        "Written by `.venv/bin/python bench/config_parity.py` (Portkey `@portkey-ai/gateway` "
        f"1.15.2 from bench/portkey), {time.strftime('%Y-%m-%d')}. Each target is a fake "
        "upstream of its own (a, b, c: OpenAI-shaped; claude: Anthropic-shaped); a sequence "
        "lists the upstream calls in arrival order as `target:model`. *Expected* is the route "
        "Portkey's code takes, read in its build (tryTargetsRecursively, retryRequest).",
        "",
        "## Routes",
        "",
        "| config | expected | " + " | ".join(names) + " | same route? | notes |",
        "|---|---|" + "---|" * len(names) + "---|---|",
    ]
    for row in rows:
        case, outcomes = row["case"], row["outcomes"]
        cells = [f"{_arrow(o.sequence)} [{o.status}]" for o in outcomes.values()]
        routes = {tuple(o.sequence) + (o.status,) for o in outcomes.values()}
        same = "yes" if len(routes) == 1 else "**no**"
        notes = [case.why] if case.why else []
        for name, o in outcomes.items():
            if o.route != expected(case, name):
                notes.append(f"**{name} is not as expected**")
            if o.detail:
                notes.append(f"{name}: {o.detail}")
            if "retry-after" in case.name and o.gaps:
                notes.append(f"{name} waited {o.gaps[0]} s before retrying")
        portkey = f"{_arrow(case.expected)} [{case.status}]"
        line = [case.name, portkey, *cells, same, "; ".join(notes).replace("|", "\\|")]
        out.append("| " + " | ".join(line) + " |")
    out += [
        "",
        "## Response headers",
        "",
        "last-used-option-index / retry-attempt-count / cache-status, as each gateway sent them.",
        "",
        "| config | " + " | ".join(names) + " | same? |",
        "|---|" + "---|" * len(names) + "---|",
    ]
    for row in rows:
        values = [" / ".join(o.headers[h] for h in HEADERS) for o in row["outcomes"].values()]
        same = "yes" if len(set(values)) == 1 else "**no**"
        out.append(
            f"| {row['case'].name} | " + " | ".join(f"`{v}`" for v in values) + f" | {same} |"
        )
    differences = [row for row in rows if _differs(row)]
    out += ["", "## Differences", ""]
    for row in differences:
        case, outcomes = row["case"], row["outcomes"]
        seen = "; ".join(
            f"{name} {_arrow(o.sequence)} [{o.status}], headers `{' / '.join(o.headers.values())}`"
            for name, o in outcomes.items()
        )
        out.append(f"- **{case.name}**: {seen}. {case.why or 'Not explained: a bug to look at.'}")
    if not differences:
        out.append("None.")
    return "\n".join(out) + "\n" + PORTKEY_HEADERS


def _differs(row: dict) -> bool:
    outcomes = list(row["outcomes"].values())
    return len({(tuple(o.sequence), o.status, tuple(o.headers.values())) for o in outcomes}) > 1


PORTKEY_HEADERS = """
## The headers as Portkey 1.15.2 sends them (its build/start-server.js)

- `x-portkey-last-used-option-index`: the path of the leaf that answered, a string: `config`
  for a config without targets, `config.targets[1]`, `config.targets[0].targets[1]` (the
  index in the parent for conditional and loadbalance too). Sent on upstream errors as on
  successes; absent when no target was reached (a conditional matching nothing: 400).
- `x-portkey-retry-attempt-count`: the retries made on that leaf, 0 without any; but `-1` when
  they ran out and the last status is still one to retry on (`retryCount === attempts &&
  onStatusCodes.includes(status)`), and `-1` once a retry-after of 60 s or more has set its
  `skip` flag, even when a later retry succeeds.
- `x-portkey-cache-status`: the cache lookup's status; the open-source gateway has no cache
  store (nothing sets its getFromCache hook), so it is `DISABLED` on every answer from a
  target, with or without a cache config; absent when no target was reached.
- Retries wait 1 s, 2 s, 4 s… (async-retry, factor 2, no jitter); `use_retry_after_header`
  is read on a 429 only, and 1.15.2's branch that would wait it throws first (see above).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-portkey", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="iris-parity-"))
    gateways: list[Gateway] = []
    with Upstreams() as upstreams:
        try:
            gateways.append(start_iris(data_dir))
            if not args.skip_portkey:
                gateways.append(start_portkey(data_dir / "portkey.log"))
            rows = run_all(gateways, upstreams)
        finally:
            for gateway in gateways:
                gateway.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(rows, [g.name for g in gateways]))
    print(f"wrote {args.out} (gateway logs in {data_dir})")


if __name__ == "__main__":
    main()
