"""The benchmark's Markdown tables from its results (the JSON bench/run.py writes)."""

from peers import URL_HANDLING

WHAT = """Each gateway runs alone, pinned to core 0 (Iris with N workers: cores 0..N-1); wrk, the
fake upstream, the image host and this script share core 1. "added" is the gateway's
percentile minus the fake upstream's alone with the same bodies and clients. CPU is the
gateway's process-tree user+system seconds from /proc over the timed run, per request (or per
MB of image sent), counted until the gateway is idle again (its log writer's tail
included), per request that reached the upstream. Peak RSS is VmHWM summed over the
gateway's processes, reset before each run (to the RSS at its start, shown in brackets:
memory earlier runs freed but did not give back). Each image request carries a distinct
image (3 bytes after its end marker differ), so a gateway storing images by hash stores each
one, as with real traffic (--same-image: not)."""


def _f(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def main_table(results: dict) -> list[str]:
    rows = [
        "| peer | added p50 / p99, 1 client | req/s, p99 at 32 clients | CPU per request, "
        "32 clients | req/s, p99 with the image body at 8 | CPU per image request "
        "| peak RSS, image run | stream TTFB overhead |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, peer in results["peers"].items():
        one, many = peer.get("small ×1"), peer.get("small ×32")
        image = next((v for k, v in peer.items() if k.endswith("MB body ×8")), None)
        if not (one or many or image):
            continue
        ttfb = peer.get("ttfb_overhead_ms")
        rows.append(
            f"| {name} "
            f"| {_f(one and one['added_p50'], 2)} / {_f(one and one['added_p99'], 1)} ms "
            f"| {_f(many and many['rps'], 0)}, {_f(many and many['p99'])} ms "
            f"| {_f(many and many['cpu_ms_per_request'], 2)} ms "
            f"| {_f(image and image['rps'], 0)}, {_f(image and image['p99'])} ms "
            f"| {_f(image and image['cpu_ms_per_request'], 2)} ms "
            f"| {_f(image and image['peak_rss_mb'], 0)} MB "
            f"| {_f(ttfb, 2)} ms |" + _errors(one, many, image)
        )
    return rows


def _errors(*runs: dict | None) -> str:
    errors = sum(run["errors"] for run in runs if run)
    sockets = "; ".join(run["socket_errors"] for run in runs if run and run["socket_errors"])
    note = f" ⚠ {errors} non-2xx" if errors else ""
    return note + (f" ⚠ socket errors: {sockets}" if sockets else "")


def ratios(results: dict, versus: str = "Portkey") -> list[str]:
    peers = results["peers"]
    if versus not in peers:
        return []
    lines = []
    for name, peer in peers.items():
        if name == versus:
            continue
        parts = []
        for scenario, label in (("small ×32", "small req/s"), ("MB body ×8", "image req/s")):
            mine = next((v for k, v in peer.items() if k.endswith(scenario)), None)
            theirs = next((v for k, v in peers[versus].items() if k.endswith(scenario)), None)
            if mine and theirs and theirs["rps"]:
                parts.append(f"{label} {mine['rps'] / theirs['rps']:.2f}×")
                cpu = mine["cpu_ms_per_request"] / max(theirs["cpu_ms_per_request"], 1e-9)
                parts.append(f"CPU per request {cpu:.2f}×")
        one, theirs_one = peer.get("small ×1"), peers[versus].get("small ×1")
        if one and theirs_one and theirs_one["added_p50"] > 0:
            parts.append(f"added p50 {one['added_p50'] / theirs_one['added_p50']:.2f}×")
        if parts:
            lines.append(f"- {name} / {versus}: " + ", ".join(parts))
    return lines


def scenario_table(results: dict) -> list[str]:
    rows = [
        "| scenario | peer | upstream got | req/s | added p50 / p99 | peak RSS (at start) "
        "| CPU per MB "
        "| fetches, fetch time p50 / p99 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = [
        s["name"] for s in results["scenarios"] if s["group"] in ("photos", "urls", "stream", "mix")
    ]
    for scenario in names:
        for peer_name, peer in results["peers"].items():
            if not (run := peer.get(scenario)):
                continue
            fetch = "–"
            if "fetches" in run:
                p50, p99 = _f(run.get("fetch_p50"), 2), _f(run.get("fetch_p99"), 2)
                fetch = f"{run['fetches']}, {p50} / {p99} ms"
            rows.append(
                f"| {scenario} | {peer_name} | {run['form']} | {run['rps']:.1f} "
                f"| {run['added_p50']:.1f} / {run['added_p99']:.1f} ms "
                f"| {run['peak_rss_mb']:.0f} ({_f(run.get('rss_before_mb'), 0)}) MB "
                f"| {_f(run.get('cpu_ms_per_mb'), 2)} ms "
                f"| {fetch} |" + _errors(run)
            )
    return rows


def lag_lines(results: dict) -> list[str]:
    lines = []
    for name, peer in results["peers"].items():
        for scenario, lag in peer.get("loop_lag", {}).items():
            if lag:
                lines.append(
                    f"- {name} event-loop lag, {scenario}: p50 {lag['p50_ms']:.1f} ms, "
                    f"p99 {lag['p99_ms']:.1f} ms, max {lag['max_ms']:.1f} ms "
                    f"({lag['count']} samples)"
                )
    return lines


def markdown(results: dict) -> str:
    meta = results["meta"]
    out = [
        f"# Benchmark {meta['label']} ({meta['date']}, commit {meta['commit']})",
        "",
        f"`{meta['command']}`",
        "",
        f"Machine: {meta['cores']} cores, load average {meta['load_before']} before and "
        f"{meta['load_after']} after; {meta['seconds']} s per timed run.",
        "",
        WHAT,
        "",
    ]
    if any("small ×32" in p or "small ×1" in p for p in results["peers"].values()):
        out += ["## Main table", "", *main_table(results), "", *ratios(results), ""]
        out += lag_lines(results) + [""]
    if any(s["group"] in ("photos", "urls", "stream", "mix") for s in results["scenarios"]):
        out += ["## Image-heavy scenarios", "", *scenario_table(results), ""]
        out += ["Images:", ""] + [f"- {line}" for line in meta["images"]] + [""]
        if any(s["group"] == "urls" for s in results["scenarios"]):
            out += [
                "What each peer does with an image URL (URL rows are not comparable blindly):",
                "",
            ]
            out += [
                f"- {name}: {URL_HANDLING[name]}"
                for name in results["peers"]
                if name in URL_HANDLING
            ]
            out += [
                "- fetch time: the image host's own time per fetch (request read to last byte "
                "handed to the socket); Iris records no fetch time of its own.",
                "",
            ]
    if notes := meta.get("notes"):
        out += ["Notes:", ""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(out)
