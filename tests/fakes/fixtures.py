"""The fake provider servers as pytest fixtures, registered for every test directory by
`pytest_plugins` in tests/conftest.py (fake_openai, session-scoped, is in tests/conftest.py).

Each is module-scoped, as each test module had its own copy before: a module gets a fresh
server, so what one module's tests read from `received` / `last()` is never another
module's traffic. A module that needs a different server (another handler, a wrapper,
extra methods) defines its own fixture of the same name, which shadows these in it.
"""

import pytest

from tests.fakes import anthropic, azure, bedrock, gemini, openai_responses
from tests.fakes.server import FakeServer


@pytest.fixture(scope="module")
def fake_anthropic():
    with FakeServer(anthropic.handle) as server:
        yield server


@pytest.fixture(scope="module")
def fake_azure():
    with FakeServer(azure.handle) as server:
        yield server


@pytest.fixture(scope="module")
def fake_bedrock():
    with FakeServer(bedrock.handle) as server:
        yield server


@pytest.fixture(scope="module")
def fake_gemini():
    with FakeServer(gemini.handle) as server:
        yield server


@pytest.fixture(scope="module")
def fake_responses():
    """The fake OpenAI Responses API (GET and POST)."""
    with FakeServer(openai_responses.handle) as server:
        yield server
