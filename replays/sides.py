"""What the compare view shows: each side's record and answer, the diffs, the links."""

from dataclasses import dataclass

from gateway.models import RequestLog
from replays.compare import Answer, answer_of, json_diff, text_diff
from replays.core import METADATA_KEY, Replayed
from replays.models import Replay


@dataclass
class Side:
    label: str
    log: RequestLog | None  # None: the replay's record is not written yet
    answer: Answer
    latency_ms: float | None

    @property
    def shown_text(self) -> str:
        return self.answer.text or (f"Error: {self.answer.error}" if self.answer.error else "")


def comparison(original: RequestLog, request_id: str, done: Replayed | None) -> dict:
    """The compare view's context; `done` (the replay just run) stands in for its record until
    the log writer has written it."""
    row = RequestLog.objects.filter(request_id=request_id).first()
    link = Replay.objects.filter(request_id=request_id).first()
    before = Side(
        f"Original #{original.pk}", original, answer_of(original.response_body), original.latency_ms
    )
    if row is not None:
        after = Side(f"Replay #{row.pk}", row, answer_of(row.response_body), row.latency_ms)
    else:
        answer = answer_of(done.response) if done else Answer()
        after = Side("Replay", None, answer, done.latency_ms if done else None)
    json_before, json_after = before.answer.json, after.answer.json
    has_json = json_before is not None or json_after is not None
    return {
        "log": original,
        "link": link,
        "request_id": request_id,
        "before": before,
        "after": after,
        "sides": [before, after],
        "written": row is not None,
        "answered": row is not None or done is not None,
        "same_text": before.shown_text == after.shown_text,
        "text_diff": text_diff(before.shown_text, after.shown_text),
        "has_json": has_json,
        "json_changes": json_diff(json_before, json_after) if has_json else [],
    }


_LISTED = 50


def replays_of(log: RequestLog) -> dict:
    """A record's latest replays, each with its record's id once written."""
    replays = list(Replay.objects.filter(original=log)[: _LISTED + 1])
    more = len(replays) > _LISTED
    replays = replays[:_LISTED]
    shown = [r.request_id for r in replays]
    ids = dict(RequestLog.objects.filter(request_id__in=shown).values_list("request_id", "id"))
    return {"replays": [(r, ids.get(r.request_id)) for r in replays], "more": more}


def replay_of(log: RequestLog) -> Replay | None:
    """The Replay that made this record; asked only of records whose metadata says they are
    one, so the request page spends no query on the others."""
    if not isinstance(log.metadata, dict) or METADATA_KEY not in log.metadata:
        return None
    return Replay.objects.filter(request_id=log.request_id).first()
