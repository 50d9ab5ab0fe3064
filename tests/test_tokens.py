"""Text tokens offline (gateway/tokens.py): tiktoken on the encodings Iris ships, checked
against OpenAI's cookbook "How to count tokens with tiktoken"
(https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken, read 2026-11-26),
whose counts the notebook itself checks against the API's `usage.prompt_tokens`; and the
approximation where no tokenizer applies. These tests run with no network: the real
tokenizer path must never need one."""

import gzip
import hashlib
import logging
import socket

import pytest
import tiktoken.load

from gateway import tokens

# The cookbook's section 6 example conversation: 129 prompt tokens on gpt-3.5-turbo and
# gpt-4 (cl100k_base), 124 on gpt-4o and gpt-4o-mini (o200k_base).
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]


@pytest.fixture(autouse=True)
def tiktoken_on(monkeypatch):
    """GATEWAY_TOKENIZER=tiktoken (the default is the approximation)."""
    monkeypatch.setattr(tokens, "_enabled", True)


def test_by_default_openai_text_is_approximated_too(monkeypatch):
    monkeypatch.setattr(tokens, "_enabled", False)
    assert tokens.count_text("openai", "gpt-4o", ["tiktoken is great!"]) == (
        5,
        tokens.APPROXIMATION,
    )


@pytest.fixture
def offline(monkeypatch):
    """No socket may connect and tiktoken may not fetch: the shipped files are all there is.
    The process's loaded encodings are set aside so each test loads from disk again."""

    def refuse(*args, **kwargs):
        raise AssertionError("the tokenizer tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", refuse)
    monkeypatch.setattr(tokens, "_encodings", {})


def test_the_cookbooks_string_counts_six_tokens_in_cl100k(offline):
    # Section 3: "tiktoken is great!" → [83, 1609, 5963, 374, 2294, 0] in cl100k_base.
    assert tokens.count_text("openai", "gpt-4", ["tiktoken is great!"]) == (
        6,
        "tiktoken cl100k_base",
    )
    assert tokens.encoding("cl100k_base").encode("tiktoken is great!") == [
        83,
        1609,
        5963,
        374,
        2294,
        0,
    ]


@pytest.mark.parametrize(
    ("model", "expected", "encoding"),
    [
        ("gpt-3.5-turbo", 129, "cl100k_base"),
        ("gpt-4-0613", 129, "cl100k_base"),
        ("gpt-4", 129, "cl100k_base"),
        ("gpt-4o", 124, "o200k_base"),
        ("gpt-4o-mini", 124, "o200k_base"),
    ],
)
def test_the_cookbooks_conversation_with_its_chat_overhead(offline, model, expected, encoding):
    count, method = tokens.count_messages("openai", model, COOKBOOK_MESSAGES)
    assert count == expected
    assert method == f"tiktoken {encoding} + chat overhead (OpenAI cookbook)"


def test_no_documented_overhead_means_the_text_alone():
    # gpt-5 is not in the cookbook's function: 124 less 6 × 3 per message, 4 names × 1, and
    # the reply's 3 = 99.
    assert tokens.count_messages("openai", "gpt-5", COOKBOOK_MESSAGES) == (
        99,
        "tiktoken o200k_base, text only",
    )


def test_azure_and_dated_names_map_to_their_encoding():
    text = ["tiktoken is great!"]
    assert tokens.count_text("azure-openai", "gpt-35-turbo", text)[1] == "tiktoken cl100k_base"
    assert tokens.count_text("azure-openai", "gpt-4o-2024-08-06", text)[1] == "tiktoken o200k_base"
    assert tokens.count_text("openai", "gpt-5.4-mini", text)[1] == "tiktoken o200k_base"
    # o200k_base splits "tiktoken" differently but also counts 6 here.
    assert tokens.count_text("openai", "o3", text)[0] == 6


def test_content_parts_count_their_text_and_leave_images_to_the_image_rules():
    parts = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "tiktoken is great!"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    ]
    # "user" is 1 token, the text 6, + 3 for the message and 3 for the reply: 13.
    assert tokens.count_messages("openai", "gpt-4o", parts)[0] == 13


def test_special_token_text_is_counted_as_text():
    count, method = tokens.count_text("openai", "gpt-4o", ["<|endoftext|>"])
    assert method == "tiktoken o200k_base" and count > 1


def test_other_providers_and_unmapped_models_approximate():
    # ⌈18 / 4⌉ = 5 for "tiktoken is great!" (18 characters).
    expected = (5, tokens.APPROXIMATION)
    assert tokens.count_text("anthropic", "claude-sonnet-4-6", ["tiktoken is great!"]) == expected
    assert tokens.count_text("azure-openai", "prod-vision", ["tiktoken is great!"]) == expected
    assert tokens.count_text("google", "gemini-2.5-flash", []) == (0, tokens.APPROXIMATION)
    assert tokens.count_messages("bedrock", "x", [{"role": "user", "content": "abcd"}]) == (
        2,  # "user" + "abcd": 8 characters
        tokens.APPROXIMATION,
    )


def test_a_missing_encoding_is_approximated_and_remembered(offline, monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(tokens, "DATA", tmp_path)  # no files there
    loads = []
    real_load = tokens._load
    monkeypatch.setattr(tokens, "_load", lambda name: loads.append(name) or real_load(name))
    with caplog.at_level(logging.WARNING, logger="gateway.tokens"):
        for _ in range(3):
            assert tokens.count_text("openai", "gpt-4o", ["abcdefgh"]) == (2, tokens.APPROXIMATION)
    assert loads == ["o200k_base"]  # tried once, the failure cached
    assert len(caplog.records) == 1 and "o200k_base unavailable" in caplog.text


def test_a_file_that_does_not_match_tiktokens_hash_is_refused(offline, monkeypatch, tmp_path):
    # A well-formed but wrong rank file: the hash tiktoken pins for o200k_base refuses it.
    bogus = b"YQ== 0\nYg== 1\n"
    (tmp_path / "o200k_base.tiktoken.gz").write_bytes(gzip.compress(bogus))
    monkeypatch.setattr(tokens, "DATA", tmp_path)
    assert tokens.count_text("openai", "gpt-4o", ["ab"]) == (1, tokens.APPROXIMATION)
    assert "does not match the hash" in str(tokens._encodings["o200k_base"])


def test_decompression_is_bounded(offline, monkeypatch):
    monkeypatch.setattr(tokens, "MAX_FILE", 1000)
    assert tokens.count_text("openai", "gpt-4o", ["abcd"]) == (1, tokens.APPROXIMATION)
    assert "larger than 1000 bytes" in str(tokens._encodings["o200k_base"])


def test_without_tiktoken_installed_the_approximation_answers(monkeypatch):
    monkeypatch.setattr(tokens, "tiktoken", None)
    assert tokens.count_text("openai", "gpt-4o", ["abcd"]) == (1, tokens.APPROXIMATION)


def test_the_shipped_files_are_the_ones_tiktoken_pins():
    # tiktoken_ext/openai_public.py pins each file's SHA-256 (as of tiktoken 0.14).
    pinned = {
        "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    }
    for name in tokens.SHIPPED:
        data = gzip.decompress((tokens.DATA / f"{name}.tiktoken.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == pinned[name]


def test_warm_loads_every_shipped_encoding(offline):
    tokens.warm()
    assert sorted(tokens._encodings) == sorted(tokens.SHIPPED)
    assert all(not isinstance(found, Exception) for found in tokens._encodings.values())
