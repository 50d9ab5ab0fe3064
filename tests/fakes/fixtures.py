"""The fake provider servers as pytest fixtures, registered for every test directory by
`pytest_plugins` in tests/conftest.py (fake_openai, session-scoped, is in tests/conftest.py).

Each is module-scoped, as each test module had its own copy before: a module gets a fresh
server, so what one module's tests read from `received` / `last()` is never another
module's traffic. A module that needs a different server (another handler, a wrapper,
extra methods) defines its own fixture of the same name, which shadows these in it.
"""

from collections.abc import Callable

import pytest

from tests.fakes import anthropic, azure, bedrock, gemini, openai_responses
from tests.fakes.server import FakeServer, Received, Reply


def _served(name: str, handle: Callable[[Received], Reply]):
    """A module-scoped fixture `name`: a FakeServer running `handle`."""

    @pytest.fixture(scope="module", name=name)
    def fixture():
        with FakeServer(handle) as server:
            yield server

    return fixture


fake_anthropic = _served("fake_anthropic", anthropic.handle)
fake_azure = _served("fake_azure", azure.handle)
fake_bedrock = _served("fake_bedrock", bedrock.handle)
fake_gemini = _served("fake_gemini", gemini.handle)
fake_responses = _served("fake_responses", openai_responses.handle)  # GET and POST
