"""The word diff of two answers as escaped HTML, rendered with the compare page: its cost
must stay bounded whatever the answers are.

difflib's longest-match search visits every pair of equal pieces (Σ count_a·count_b), and
calls it once per matching block: ordinary prose (spaces, "the") made 2,000 words a side take
3 s, and repetitive answers ("0, 0, 0, …") far worse (bench/replay_diff.py). So: the common
head and tail are set aside first (cheap, and most of two similar answers); a middle whose
pairs pass the budget is diffed by lines, and each changed block of lines by words while the
budget lasts; a part still past it is shown as one change, and the diff says so.
"""

import difflib
import itertools
import re
from collections import Counter

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_WORDS = re.compile(r"\s+|\w+|[^\w\s]")
_SENTENCES = re.compile(r"[^.!?\n]+[.!?]*\s*|[.!?\n]+\s*")  # every character, in order
MAX_TOKENS = 20_000  # past this, the answers are compared by lines only
MAX_LINES = 2_000  # lines compared of each answer; the rest is not
MAX_PAIRS = 40_000  # difflib's pairs of equal pieces, for the whole diff (~0.2 s at worst)

Segment = tuple[bool, str, str]  # (changed, removed text, added text)


class _Budget:
    def __init__(self, pairs: int) -> None:
        self.left, self.refused = pairs, False

    def spend(self, pairs: int) -> bool:
        if pairs > self.left:
            self.refused = True
            return False
        self.left -= pairs
        return True


def text_diff(old: str, new: str) -> SafeString:
    """A word diff as HTML: unchanged text escaped, removed words in <del>, added in <ins>.
    Changes only a space apart are shown as one: "<del>a b</del><ins>c d</ins>". A long or
    repetitive answer is diffed by lines (its first MAX_LINES), then sentences, then words
    while the budget lasts; what is cut or shown whole, the diff says."""
    budget, notes = _Budget(MAX_PAIRS), []
    segments = _diff(old, new, budget, _WORD_LEVEL)
    if segments is None:  # too long or too costly as words: lines, then finer where it can
        budget.refused = False
        a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
        if max(len(a), len(b)) > MAX_LINES:
            notes.append(
                f"The diff stops here: only the first {MAX_LINES:,} lines of each answer "
                f"are compared ({len(a):,} and {len(b):,} lines)."
            )
            a, b = a[:MAX_LINES], b[:MAX_LINES]
        segments = _refined(_segments(a, b, budget), budget, 0)
        segments = segments or [(True, "".join(a), "".join(b))]
    if budget.refused:
        notes.insert(0, "Parts too long or too repetitive to compare word by word are shown whole.")
    out = [_html(_joined(segments))]
    out += [f'<span class="diff-cut">{escape(note)}</span>' for note in notes]
    return mark_safe("".join(out))  # noqa: S308 - every piece of text above is escaped


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _sentences(text: str) -> list[str]:
    return _SENTENCES.findall(text)


def _words(text: str) -> list[str] | None:
    """The words, spaces and marks of text; None past MAX_TOKENS (not read further)."""
    tokens = [m.group() for m in itertools.islice(_WORDS.finditer(text), MAX_TOKENS + 1)]
    return None if len(tokens) > MAX_TOKENS else tokens


_LEVELS = (_lines, _sentences, _words)
_WORD_LEVEL = 2


def _diff(old: str, new: str, budget: _Budget, level: int) -> list[Segment] | None:
    """old and new diffed at `level`, each change refined at the finer levels; None when it
    is too long or would pass the budget."""
    a, b = _LEVELS[level](old), _LEVELS[level](new)
    if a is None or b is None or (level == _WORD_LEVEL and len(a) + len(b) > MAX_TOKENS):
        budget.refused = True
        return None
    return _refined(_segments(a, b, budget), budget, level)


def _refined(segments: list[Segment] | None, budget: _Budget, level: int) -> list[Segment] | None:
    if segments is None or level == _WORD_LEVEL:
        return segments
    out: list[Segment] = []
    for changed, gone, came in segments:
        finer = _diff(gone, came, budget, level + 1) if changed and gone and came else None
        out += finer or [(changed, gone, came)]
    return out


def _segments(a: list[str], b: list[str], budget: _Budget) -> list[Segment] | None:
    """difflib's diff of two lists of pieces as segments; None when it would pass the budget."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a_mid, b_mid = a[head : len(a) - tail], b[head : len(b) - tail]
    counts = Counter(b_mid)
    if not budget.spend(sum(counts[piece] for piece in a_mid)):
        return None
    out: list[Segment] = [(False, "".join(a[:head]), "")] if head else []
    matcher = difflib.SequenceMatcher(None, a_mid, b_mid, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes() if a_mid or b_mid else ():
        out.append((op != "equal", "".join(a_mid[i1:i2]), "".join(b_mid[j1:j2])))
    if tail:
        out.append((False, "".join(a[len(a) - tail :]), ""))
    return out


def _joined(segments: list[Segment]) -> list[list]:
    """Changes next to each other, or only a space apart, as one."""
    runs: list[list] = []  # [changed, removed text, added text]
    for changed, gone, came in segments:
        if changed and runs and runs[-1][0]:
            runs[-1][1] += gone
            runs[-1][2] += came
        elif changed and len(runs) > 1 and runs[-2][0] and not runs[-1][1].strip():
            space = runs.pop()[1]  # a space between two changes joins them
            runs[-1][1] += space + gone
            runs[-1][2] += space + came
        elif not changed and runs and not runs[-1][0]:
            runs[-1][1] += gone
        else:
            runs.append([changed, gone, came])
    return runs


def _html(runs: list[list]) -> str:
    out = []
    for changed, gone, came in runs:
        if not changed:
            out.append(escape(gone))
            continue
        out.append(f"<del>{escape(gone)}</del>" if gone else "")
        out.append(f"<ins>{escape(came)}</ins>" if came else "")
    return "".join(out)
