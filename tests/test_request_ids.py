"""Request ids from gateway/log/ids.py, and the collector thresholds a served process runs with."""

import gc
import os
import re
import time
import uuid

from gateway.asgi import collector_thresholds
from gateway.log import ids
from gateway.log.record import Record


def test_ids_are_32_hex_digits_and_never_repeat():
    many = [ids.new_id() for _ in range(ids._IDS_PER_REFILL * 4 + 3)]  # across refills
    assert all(re.fullmatch(r"[0-9a-f]{32}", one) for one in many)
    assert len(set(many)) == len(many)


def test_ids_are_uuid7s_that_sort_by_time():
    first = ids.new_id()
    time.sleep(0.002)  # the next millisecond, at least
    later = [ids.new_id() for _ in range(100)]
    assert all(uuid.UUID(one).version == 7 for one in [first, *later])
    assert all(uuid.UUID(one).variant == uuid.RFC_4122 for one in later)
    assert all(first < one for one in later)  # the log's index takes them at its end
    stamp_ms = int(first[:12], 16)
    assert abs(stamp_ms - time.time() * 1000) < 60_000
    assert len({one[12:] for one in later}) == 100  # the random part differs within a ms


def test_a_record_takes_its_id_from_the_pool():
    first, second = Record("/v1/chat/completions", {}), Record("/v1/chat/completions", {})
    assert re.fullmatch(r"[0-9a-f]{32}", first.request_id)
    assert first.request_id != second.request_id


def test_a_forked_child_does_not_hand_out_its_parents_ids():
    ids.new_id()  # the pool holds ids the parent will hand out next
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent; never back into pytest
        try:
            os.close(read)
            os.write(write, "".join(ids.new_id() for _ in range(8)).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 4096):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    parent_next = {ids.new_id() for _ in range(8)}
    child_ids = {child[i : i + 32].decode() for i in range(0, len(child), 32)}
    assert len(child_ids) == 8
    assert not child_ids & parent_next


def test_collector_thresholds_are_set_from_the_setting():
    before = gc.get_threshold()
    try:
        collector_thresholds((12345, 6, 7))
        assert gc.get_threshold() == (12345, 6, 7)
        collector_thresholds(())  # empty: left as it was
        assert gc.get_threshold() == (12345, 6, 7)
    finally:
        gc.set_threshold(*before)
