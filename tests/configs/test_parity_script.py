"""bench/config_parity.py's Iris half: each of its configs, sent to a real Iris over its fakes,
takes the route Portkey's gateway takes (or the one the case says Iris takes on purpose). The
script runs Portkey beside it; this keeps Iris's side checked without node."""

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import IrisServer

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load_script():
    sys.path.insert(0, str(BENCH))  # the script imports config_parity_cases beside it
    spec = importlib.util.spec_from_file_location("config_parity", BENCH / "config_parity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


parity = _load_script()


@pytest.fixture(scope="module")
def upstreams():
    with parity.Upstreams() as fakes:
        yield fakes


@pytest.fixture(scope="module")
def parity_iris(tmp_path_factory):
    server = IrisServer(tmp_path_factory.mktemp("parity"), GATEWAY_RETRY_BASE_WAIT="0.05").start()
    yield parity.Gateway("Iris", server.url, server.headers())
    server.stop()


@pytest.mark.parametrize("case", parity.CASES, ids=lambda case: case.name)
def test_iris_takes_portkeys_route(case, parity_iris, upstreams):
    outcome = parity.run_case(parity_iris, case, upstreams)

    assert outcome.route == parity.expected(case, "Iris"), outcome.detail
    if outcome.status == 200 and outcome.sequence:
        assert outcome.headers["x-portkey-last-used-option-index"].startswith("config")
    if case.retry_header is not None:
        assert outcome.headers["x-portkey-retry-attempt-count"] == case.retry_header
    if case.body.get("stream"):
        assert "[DONE] sent" in outcome.detail


def test_a_route_off_the_expected_one_is_reported():
    """The report names a gateway that strays from the expected route, and a difference no
    case explains, so a regression cannot hide in the table."""
    case = parity.CASES[0]
    stray = parity.Outcome(["b:gpt-4o-mini"], 200, dict.fromkeys(parity.HEADERS, "-"), [], "")
    right = parity.Outcome(case.expected, 200, dict.fromkeys(parity.HEADERS, "-"), [], "")

    rows = [{"case": case, "outcomes": {"Iris": stray, "Portkey": right}}]
    text = parity.report(rows, ["Iris", "Portkey"])

    assert "**Iris is not as expected**" in text
    assert "Not explained: a bug to look at." in text
