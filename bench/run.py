"""Benchmark: Iris (logging on) against Portkey 1.15.2 and LiteLLM 1.108.7, each in front of
one fast fake upstream, with real camera photos. The one command that makes the README table:

    .venv/bin/python bench/run.py [--seconds 10] [--only small,image,stream,photos,urls,mix]
        [--workers 1,2] [--skip-portkey] [--skip-litellm] [--publish LABEL]

Needs wrk and taskset (Debian: `apt-get install wrk util-linux`); for Portkey, node and
`npm ci --prefix bench/portkey` (its lockfile pins the server versions whose streams work);
for LiteLLM, its proxy in its own venv (bench/.litellm-venv, installed on first use). Each
gateway runs alone pinned to core 0; wrk, the fake upstream, the image host (bench/
imageserver.py) and this script share core 1. Groups: small (added latency at 1 client,
req/s at 32, stream TTFB), image (a 1.38 MB body at 8 clients), photos (0.2-8 MB camera
JPEGs and a PNG screenshot as base64 at 1 and 8 clients), urls (the same as URLs on the image
host; Iris also with GATEWAY_INLINE_IMAGE_URLS=1), stream (a stream with an image), mix (80 %
text, 20 % images). Results go to bench/results/ (git-ignored), or with --publish LABEL to
bench/published/<date>-LABEL.{json,md}. --memory-only: RSS growth while proxying a 20 MB PNG.
"""

import argparse
import datetime
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import load
import photos
import report
import scenarios
from load import Body
from peers import (  # noqa: F401 (GATEWAY_PORT: imported from here by other bench scripts)
    BENCH,
    FAKE_PORT,
    GATEWAY_PORT,
    IMAGE_PORT,
    ROOT,
    Peer,
    ensure_free,
    wait_for,
)
from PIL import Image

# Kept for bench/config_cost.py and bench/image_stages.py, which import them from here.
PHOTO = photos.SHARED_IMAGES / "hubble_deep_field.jpg"
WRK_SCRIPT = load.WRK_SCRIPT
CONFIG = " + config"
PUBLISHED, RESULTS = BENCH / "published", BENCH / "results"


def chat_body(image: bytes | None = None, *, stream: bool = False, mime="image/jpeg") -> bytes:
    uri = photos.data_uri(image, mime) if image else ""
    parts = [{"type": "image_url", "image_url": {"url": uri}}] if image else []
    return scenarios.chat(parts, stream=stream)


def wrk(url: str, headers: dict, body: bytes, clients: int, seconds: float) -> dict:
    return load.wrk(url, headers, Body(body), clients, seconds)


def with_config(peer: Peer) -> Peer:
    """The same server routed by an inline config with one target (no retry, no cache)."""
    copy = Peer(peer.name + CONFIG, peer.command, peer.env, cores=peer.cores, lag_dir=peer.lag_dir)
    routing = ("x-portkey-provider", "x-portkey-custom-host", "authorization")
    copy.headers = {k: v for k, v in peer.headers.items() if k not in routing}
    target = {
        "provider": "openai",
        "api_key": "sk-bench",
        "custom_host": peer.headers["x-portkey-custom-host"],
    }
    copy.headers["x-portkey-config"] = json.dumps(target)
    return copy


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10, help="per timed run")
    parser.add_argument(
        "--only", default=",".join(scenarios.GROUPS), help="groups, comma-separated"
    )
    parser.add_argument("--workers", default="1", help="Iris worker counts, e.g. 1,2")
    parser.add_argument("--skip-portkey", action="store_true")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument(
        "--skip-inline", action="store_true", help="no Iris with GATEWAY_INLINE_IMAGE_URLS=1"
    )
    parser.add_argument("--same-image", action="store_true", help="one image for every request")
    parser.add_argument(
        "--fresh", action="store_true", help="restart each gateway before each image scenario"
    )
    parser.add_argument(
        "--clients", default="1,8", help="client counts of the photos and urls groups"
    )
    parser.add_argument("--config", action="store_true", help="also each peer routed by a config")
    parser.add_argument("--publish", metavar="LABEL", help="write to bench/published/<date>-LABEL")
    parser.add_argument("--memory-only", action="store_true", help="RSS growth with a 20 MB PNG")
    args = parser.parse_args()
    args.groups = set(args.only.split(",")) if args.only else set(scenarios.GROUPS)
    if unknown := args.groups - set(scenarios.GROUPS):
        parser.error(f"unknown groups {sorted(unknown)}; known: {', '.join(scenarios.GROUPS)}")
    args.worker_counts = [int(n) for n in args.workers.split(",")]
    return args


def make_peers(args: argparse.Namespace) -> list[tuple[Peer, set[str]]]:
    """The peers, each with the groups it runs."""
    import peers

    cores = os.cpu_count() or 1
    first, *more = args.worker_counts
    out = [(peers.iris("Iris", workers=first, cores=f"0-{min(first, cores) - 1}"), args.groups)]
    for count in more:
        span = f"0-{min(count, cores) - 1}"
        out.append(
            (
                peers.iris(f"Iris, {count} workers (cores {span})", workers=count, cores=span),
                args.groups & {"small", "image"},
            )
        )
    if "urls" in args.groups and not args.skip_inline:
        inline = peers.iris("Iris (inline URLs)", extra_env={"GATEWAY_INLINE_IMAGE_URLS": "1"})
        out.append((inline, {"urls"}))
    if not args.skip_portkey:
        out.append((peers.portkey(), args.groups))
    if not args.skip_litellm:
        if peers.install_litellm() and (peer := peers.litellm()):
            out.append((peer, args.groups))
        else:
            print("LiteLLM did not install: skipped", flush=True)
    if args.config:
        out += [
            (with_config(p), g & {"small", "image"})
            for p, g in list(out)
            if p.name in ("Iris", "Portkey")
        ]
    return out


def measure(
    peer: Peer, chosen: list[scenarios.Scenario], args, bases: dict, small_ttfb: float
) -> dict:
    print(f"measuring {peer.name}…", flush=True)
    peer.start()
    results: dict = {"loop_lag": {}}
    try:
        load.wrk(peer.url, peer.headers, Body(scenarios.chat([])), 8, 2)  # warm-up
        for scenario in chosen:
            if args.fresh and scenario.group not in ("small", "image"):
                peer.stop()  # each image scenario's peak RSS from a fresh process
                peer.start()
                load.wrk(peer.url, peer.headers, Body(scenarios.chat([])), 8, 1)
            peer.lag()
            results[scenario.name] = scenarios.run(
                peer, scenario, args.seconds, bases[scenario.name]
            )
            results["loop_lag"][scenario.name] = peer.lag()
            line = results[scenario.name]
            print(
                f"  {scenario.name}: {line['rps']:.1f} req/s, p50 {line['p50']:.1f} ms, "
                f"p99 {line['p99']:.1f} ms, CPU {line['cpu_ms_per_request']:.2f} ms/request, "
                f"peak RSS {line['peak_rss_mb']:.0f} MB {line['form']}",
                flush=True,
            )
        if any(s.group == "small" for s in chosen):
            ttfb = load.ttfb_ms(peer.url, peer.headers, scenarios.chat([], stream=True))
            results["ttfb_overhead_ms"] = ttfb - small_ttfb
        results["rss_after_mb"] = peer.rss_mb()
    finally:
        peer.stop()
    return results


def memory_only(peer: Peer) -> None:
    side = int((20 * 1024 * 1024 / 3) ** 0.5)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
        out, "PNG", compress_level=0
    )
    big_body = chat_body(out.getvalue(), mime="image/png")
    peer.start()
    try:
        httpx.post(peer.url, headers=peer.headers, content=chat_body(), timeout=30)
        baseline = peer.rss_mb()
        peer.reset_peak_rss()
        httpx.post(peer.url, headers=peer.headers, content=big_body, timeout=120)
        grown = peer.peak_rss_mb() - baseline
        print(
            f"{peer.name}: baseline {baseline:.0f} MB, growth {grown:.0f} MB "
            f"({grown * 1024 * 1024 / len(out.getvalue()):.1f}× payload)"
        )
    finally:
        peer.stop()


def write(results: dict, label: str | None) -> Path:
    folder = PUBLISHED if label else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    stem = (
        f"{results['meta']['date']}-{label}"
        if label
        else datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    )
    (folder / f"{stem}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    (folder / f"{stem}.md").write_text(report.markdown(results))
    return folder / f"{stem}.md"


def main() -> None:
    args = arguments()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install wrk util-linux")
    os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})  # this script's own clients: core 1
    chosen = scenarios.build(
        args.groups,
        vary=not args.same_image,
        photo_clients=[int(n) for n in args.clients.split(",")],
    )
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    photo_dir = Path(tempfile.mkdtemp(prefix="bench-images-"))
    for photo in photos.PHOTOS:
        if "urls" in args.groups:
            (photo_dir / photo.filename).write_bytes(photos.load(photo))
    for port in (FAKE_PORT, IMAGE_PORT):
        ensure_free(port)
    servers = [
        subprocess.Popen(
            [
                "taskset",
                "-c",
                load.LOAD_CORES,
                sys.executable,
                str(BENCH / "fake_upstream.py"),
                str(FAKE_PORT),
            ]
        ),
        subprocess.Popen(
            [
                "taskset",
                "-c",
                load.LOAD_CORES,
                sys.executable,
                str(BENCH / "imageserver.py"),
                str(IMAGE_PORT),
                str(photo_dir),
            ]
        ),
    ]
    peers_and_groups: list[tuple[Peer, set[str]]] = []
    try:
        wait_for(f"http://127.0.0.1:{FAKE_PORT}/stats")
        wait_for(f"http://127.0.0.1:{IMAGE_PORT}/stats")
        peers_and_groups = make_peers(args)
        if args.memory_only:
            for peer, _ in peers_and_groups:
                memory_only(peer)
            return
        print("the upstream alone…", flush=True)
        upstream = f"http://127.0.0.1:{FAKE_PORT}/v1/chat/completions"
        bases = {s.name: scenarios.direct(s, min(args.seconds, 5)) for s in chosen}
        small_ttfb = load.ttfb_ms(upstream, {}, scenarios.chat([], stream=True))
        results = {"peers": {}}
        for peer, groups in peers_and_groups:
            mine = [s for s in chosen if s.group in groups]
            results["peers"][peer.name] = measure(peer, mine, args, bases, small_ttfb)
        results["upstream"] = bases | {"ttfb_ms": small_ttfb}
        results["scenarios"] = [
            {
                "name": s.name,
                "group": s.group,
                "clients": s.clients,
                "body_bytes": len(s.body.data),
                "image_bytes": s.image_bytes,
            }
            for s in chosen
        ]
        results["meta"] = meta(args, load_before)
        path = write(results, args.publish)
        print("\n" + path.read_text())
        print(f"written: {path} and {path.with_suffix('.json')}")
    finally:
        for server in servers:
            server.terminate()
        for peer, _ in peers_and_groups:
            for folder in peer.cleanup:
                shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(photo_dir, ignore_errors=True)


def meta(args: argparse.Namespace, load_before: str) -> dict:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    images = [
        f"{p.name}: {p.width}x{p.height} {p.mime}, {len(photos.load(p)) / 1e6:.2f} MB"
        for p in photos.PHOTOS
    ]
    images.append(
        "camera JPEGs: a 3x2 mosaic of ../shared/images photos scaled (LANCZOS) to the "
        "resolution, Gaussian grain added until the JPEG (4:2:2, quality searched) reaches "
        "the size; screenshot: a logs-like UI drawn with Pillow, saved as PNG"
    )
    return {
        "label": args.publish or "local",
        "date": datetime.date.today().isoformat(),
        "commit": commit + ("+dirty" if dirty else ""),
        "command": "bench/run.py " + shlex.join(sys.argv[1:]),
        "cores": os.cpu_count(),
        "seconds": args.seconds,
        "load_before": load_before,
        "load_after": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "images": images,
        "notes": [
            "Iris with N workers on N cores shares core 1 with wrk, the upstream and the "
            "image host: it measures what the load generator leaves, not pure scaling."
        ]
        if len(args.worker_counts) > 1
        else [],
    }


if __name__ == "__main__":
    main()
