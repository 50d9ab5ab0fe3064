"""What the compare page's text diff costs on long or repetitive answers (it is rendered with
the page): replays/textdiff.py diffs words, else lines (at most 2,000 a side) then sentences
then words, within a budget of difflib work (MAX_PAIRS); what passes it is shown whole.

    python bench/replay_diff.py

Prints a Markdown table: case, pieces per side, ms for text_diff, and whether the diff was
cut or shown whole, then the worst of a grid of random texts (kinds of word x length x how
often a word changes). Before these bounds (difflib on up to 20k tokens): "7 kinds of word,
every tenth changed" took 41 s at 2,000 words a side and 534 s at 5,000; random prose of 300
kinds of word, every tenth changed, 3.3 s at 1,000 words and 50 s at 2,500.
"""

import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

import django  # noqa: E402

django.setup()

from replays.compare import text_diff  # noqa: E402


def tenth_changed(pieces: list[str]) -> tuple[str, str]:
    changed = (p.upper() if i % 10 == 0 else p for i, p in enumerate(pieces))
    return "".join(pieces), "".join(changed)


def cases():
    for n in (2_000, 4_999):  # words: 2 tokens each, under the 20k-token cap
        words = [f"w{i % 7} " for i in range(n)]
        yield "words of 7 kinds, every tenth changed", n, tenth_changed(words)
        prose = [f"the model saw {i} cats on a mat. " for i in range(n // 8)]
        yield "prose, every tenth sentence changed", n, tenth_changed(prose)
    for n in (2_000, 20_000, 100_000):  # lines
        rows = [f"row {i % 7}\n" for i in range(n)]
        yield "lines of 7 kinds, every tenth changed", n, tenth_changed(rows)
        items = [f"item {i}: a cat\n" for i in range(n)]
        yield "distinct lines, every tenth changed", n, tenth_changed(items)


def main() -> None:
    print("| case | pieces per side | text_diff ms | note |")
    print("|---|---:|---:|---|")
    for name, n, (old, new) in cases():
        start = time.perf_counter()
        html = text_diff(old, new)
        took = (time.perf_counter() - start) * 1000
        note = "shown whole" if "shown whole" in html else ""
        note += " cut at 2,000 lines" if "stops here" in html else ""
        print(f"| {name} | {n:,} | {took:.0f} | {note.strip()} |")
    rng, worst = random.Random(2), (0.0, "")
    for kinds in (1, 7, 300, 1000):
        for n in (200, 250, 300, 400, 800, 3000, 9999):
            for every in (2, 10, 50):
                words = [f"w{rng.randrange(kinds)}" for _ in range(n)]
                changed = (w.upper() if i % every == 0 else w for i, w in enumerate(words))
                start = time.perf_counter()
                text_diff(" ".join(words), " ".join(changed))
                took = (time.perf_counter() - start) * 1000
                worst = max(worst, (took, f"{kinds} kinds, {n} words, every {every}th changed"))
    print(f"\nWorst of the random grid: {worst[0]:.0f} ms ({worst[1]}).")


if __name__ == "__main__":
    main()
