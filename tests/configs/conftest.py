"""Fixtures of the routing-config end-to-end tests: one Iris with short retry waits, and fake
OpenAI and Anthropic providers that fail on cue (tests/fakes/cued.py). Session-scoped (an
Iris takes seconds to start); each test starts with empty cue queues and call lists."""

import pytest

from tests.conftest import IrisServer
from tests.fakes import anthropic, bedrock, openai
from tests.fakes.cued import cued_server


@pytest.fixture(scope="session")
def cued_openai():
    with cued_server(openai.handle) as server:
        yield server


@pytest.fixture(scope="session")
def cued_anthropic():
    with cued_server(anthropic.handle) as server:
        yield server


@pytest.fixture(scope="session")
def cued_bedrock():
    with cued_server(bedrock.handle) as server:
        yield server


@pytest.fixture(scope="session")
def routing_iris(tmp_path_factory):
    server = IrisServer(
        tmp_path_factory.mktemp("routing"),
        GATEWAY_RETRY_BASE_WAIT="0.05",  # backoffs of 25 to 50 ms, then doubling
        GATEWAY_RETRY_MAX_WAIT="5",
    ).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_cues(request):
    for name in ("cued_openai", "cued_anthropic", "cued_bedrock"):
        if name in request.fixturenames:
            request.getfixturevalue(name).cued.reset()
