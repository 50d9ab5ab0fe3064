"""Load generation for the benchmark: wrk (pinned to core 1) with a Lua script that can give
each request a distinct image, mix two bodies, and a time-to-first-byte probe for streams."""

import os
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass

import httpx

LOAD_CORES = "1"

# BENCH_BODY is sent as is, or (BENCH_VARY: the 1-based offset of 4 base64 characters at the
# end of its image) with those characters replaced by the request's number, so each request
# carries a different image (its last 3 bytes, padding after the image's end marker, differ):
# a gateway that stores images by hash writes each one, as it would with real traffic.
# With BENCH_MIX_BODY, every BENCH_MIX_EVERY-th request sends that body instead.
WRK_SCRIPT = """
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local n = 0
local every = tonumber(os.getenv("BENCH_MIX_EVERY") or "0")
local main, mix = {}, {}
wrk.method = "POST"
for name, value in string.gmatch(os.getenv("BENCH_HEADERS"), "([^\\n:]+): ([^\\n]+)") do
  wrk.headers[name] = value
end

local function read(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  return data
end

-- The whole request is formatted once; a numbered one is then a single concatenation of
-- what comes before the 4 characters, the number, and what follows (one copy of the body).
local function load(into, body_var, vary_var)
  local body = read(os.getenv(body_var))
  local vary = tonumber(os.getenv(vary_var) or "")
  into.fixed = wrk.format(nil, nil, nil, body)
  if vary then
    local at = #into.fixed - #body + vary
    into.before, into.after = into.fixed:sub(1, at - 1), into.fixed:sub(at + 4)
  end
end

local function tag(k)
  local s = ""
  for _ = 1, 4 do
    local d = k % 64
    s = s .. alphabet:sub(d + 1, d + 1)
    k = (k - d) / 64
  end
  return s
end

local function build(kind)
  if not kind.before then
    return kind.fixed
  end
  return kind.before .. tag(n) .. kind.after
end

init = function(args)
  load(main, "BENCH_BODY", "BENCH_VARY")
  if every > 0 then
    load(mix, "BENCH_MIX_BODY", "BENCH_MIX_VARY")
  end
end

request = function()
  n = n + 1
  if every > 0 and n % every == 0 then
    return build(mix)
  end
  return build(main)
end
"""


ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@dataclass
class Body:
    data: bytes
    vary_at: int | None = None  # 0-based offset of the 4 base64 characters to vary

    def numbered(self, n: int) -> bytes:
        """The body of request number n, as the Lua script makes it (tag: n in base 64,
        least significant digit first)."""
        if self.vary_at is None:
            return self.data
        tag = bytes(ALPHABET[(n >> (6 * i)) & 63] for i in range(4))
        return self.data[: self.vary_at] + tag + self.data[self.vary_at + 4 :]


def wrk(
    url: str,
    headers: dict,
    body: Body,
    clients: int,
    seconds: float,
    mix: Body | None = None,
    mix_every: int = 0,
) -> dict:
    """One wrk run: p50/p99 (ms), req/s, requests, non-2xx count."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        env = {**os.environ, "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items())}
        for prefix, part in (("BENCH", body), ("BENCH_MIX", mix)):
            if part is None:
                continue
            path = os.path.join(folder, f"{prefix}.json")
            with open(path, "wb") as out:
                out.write(part.data)
            env[f"{prefix}_BODY"] = path
            if part.vary_at is not None:
                env[f"{prefix}_VARY"] = str(part.vary_at + 1)
        if mix is not None:
            env["BENCH_MIX_EVERY"] = str(mix_every)
        script = os.path.join(folder, "bench.lua")
        with open(script, "w") as out:
            out.write(WRK_SCRIPT)
        command = ["taskset", "-c", LOAD_CORES, "wrk", "-t1", f"-c{clients}"]
        command += [f"-d{max(1, round(seconds))}s", "--timeout", "60s", "--latency", "-s", script]
        done = subprocess.run([*command, url], env=env, capture_output=True, text=True)
    out = done.stdout
    if done.returncode or "Requests/sec" not in out or not re.search(r"50%\s+[\d.]+\w", out):
        raise RuntimeError(f"wrk measured nothing against {url}:\n{out}\n{done.stderr}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M)[1]),
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1]),
        "rps": float(re.search(r"Requests/sec:\s+(\S+)", out)[1]),
        "requests": int(re.search(r"(\d+) requests in", out)[1]),
        "errors": int(errors[1]) if errors else 0,
        "socket_errors": socket_errors[1].strip() if socket_errors else "",
    }


def _ms(value: str) -> float:
    match = re.match(r"([\d.]+)(\w+)", value)
    if not match:
        raise RuntimeError(f"wrk printed an unreadable latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def ttfb_ms(url: str, headers: dict, body: bytes, runs: int = 40) -> float:
    """Median time to the first streamed byte, one client."""
    times = []
    with httpx.Client(timeout=60) as client:
        for _ in range(runs):
            start = time.perf_counter()
            with client.stream("POST", url, headers=headers, content=body) as response:
                response.raise_for_status()
                pieces = response.iter_raw()
                next(pieces)
                times.append((time.perf_counter() - start) * 1000)
                for _ in pieces:
                    pass
    return statistics.median(times)
