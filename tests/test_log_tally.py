"""gateway/log/tally.py: what a SIGKILLed process had not journaled is counted, not silent."""

import os
import signal
import subprocess
import sys
import textwrap

from django.core.management import call_command

from gateway.log import health, tally


def killed_after(folder, put: int, safe: int) -> int:
    """A real process counts, then SIGKILLs itself; returns its exit signal."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        import django
        django.setup()
        from gateway.log.tally import Tally
        t = Tally(Path({str(folder)!r}))
        for _ in range({put}):
            t.count_put()
        t.count_safe({safe})
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=os.getcwd())
    return -done.returncode


def test_the_counts_outlive_a_sigkill(tmp_path, settings):
    settings.LOG_SPOOL_DIR = tmp_path / "spool"
    folder = tmp_path / "journal-folder"
    folder.mkdir()
    assert killed_after(folder, put=7, safe=4) == signal.SIGKILL
    assert tally.unsafe_in(folder) == 3
    assert tally.account_for(folder) == 3
    assert tally.lost_total() == 3
    status = health.report(health.Stats(), alive=True, unwritten=0, queued_bytes=0, oldest=None)
    assert status["lost_when_killed"] == 3


def test_a_process_that_made_everything_safe_lost_nothing(tmp_path, settings):
    settings.LOG_SPOOL_DIR = tmp_path / "spool"
    folder = tmp_path / "journal-folder"
    folder.mkdir()
    assert killed_after(folder, put=5, safe=5) == signal.SIGKILL
    assert tally.account_for(folder) == 0
    assert tally.lost_total() == 0
    assert not tally.lost_folder().exists()


def test_no_tally_file_or_a_torn_one_counts_nothing(tmp_path):
    assert tally.unsafe_in(tmp_path) == 0
    (tmp_path / tally.FILE).write_bytes(b"\x01\x02")
    assert tally.unsafe_in(tmp_path) == 0


def test_replay_failed_forgets_the_count_when_told(tmp_path, settings, capsys, db):
    settings.LOG_SPOOL_DIR = tmp_path / "spool"
    for name, (put, safe) in {"one": (3, 1), "two": (4, 0)}.items():
        folder = tmp_path / name
        folder.mkdir()
        killed_after(folder, put, safe)
        tally.account_for(folder)
    assert tally.lost_total() == 6
    call_command("replay_failed")
    assert tally.lost_total() == 6  # kept unless asked
    call_command("replay_failed", "--forget-lost")
    assert "6 lost records' count cleared" in capsys.readouterr().out
    assert tally.lost_total() == 0


def test_counting_from_many_threads_loses_nothing_and_after_close_is_a_no_op(tmp_path):
    import threading

    counts = tally.Tally(tmp_path)

    def count() -> None:
        for _ in range(2000):
            counts.count_put()
            counts.count_safe(1)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (counts.put, counts.safe) == (8000, 8000)
    assert tally.unsafe_in(tmp_path) == 0
    counts.count_put()
    counts.close()
    counts.count_put()  # a late put after a drain closed the map: no error
    counts.count_safe(3)
    assert tally.unsafe_in(tmp_path) == 1
