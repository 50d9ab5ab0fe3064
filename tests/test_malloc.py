"""gateway/malloc.py: the arena limit is set through glibc's mallopt, unless the operator's
MALLOC_ARENA_MAX already decides."""

import ctypes
import platform

import pytest

from gateway import malloc

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


@glibc
def test_limit_arenas_is_accepted_by_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert malloc.limit_arenas(1) is True
    assert ctypes.CDLL(None).mallopt(malloc.M_ARENA_MAX, 1) == 1  # the option exists


def test_the_operators_environment_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert malloc.limit_arenas(1) is False


def test_zero_leaves_glibcs_default(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert malloc.limit_arenas(0) is False
