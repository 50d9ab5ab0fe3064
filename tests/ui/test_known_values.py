"""The filter dropdowns' distinct providers and models (logs_ui/known.py), read by seeking
the (field, -id) indexes once per value."""

import pytest

from logs_ui import known
from tests.ui.logs import make_log

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def logs():
    for provider, model in [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-3"),
        ("openai", "gpt-4o"),
        ("google", ""),
        ("openai", "gpt-4o-mini"),
    ]:
        log = make_log(provider=provider, model=model or "placeholder")
        if not model:  # an error before the model was read: stored empty
            log.model = ""
            log.save(update_fields=["model"])


def test_each_non_empty_value_once_in_order(logs):
    assert known.distinct_values("provider") == ["anthropic", "google", "openai"]
    assert known.distinct_values("model") == ["claude-3", "gpt-4o", "gpt-4o-mini"]


def test_at_most_the_bound_the_first_alphabetically(logs, monkeypatch):
    monkeypatch.setattr(known, "KNOWN_VALUES_MAX", 2)
    assert known.distinct_values("provider") == ["anthropic", "google"]


def test_an_empty_log_has_none():
    assert known.distinct_values("model") == []


def test_only_the_indexed_fields():
    with pytest.raises(ValueError, match="provider, model only"):
        known.distinct_values("request_body")
