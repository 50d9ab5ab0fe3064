from gateway.providers.base import SSEDecoder

RECORDED = (
    b": keep-alive comment\r\n"
    b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
    b"data: line one\ndata: line two\n\n"
    b'data: {"b": "caf\xc3\xa9"}\r\r'
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ("message_start", '{"a": 1}'),
    ("message", "line one\nline two"),
    ("message", '{"b": "café"}'),
    ("message", "[DONE]"),
]


def decode(pieces: list[bytes]) -> list[tuple[str, str]]:
    decoder = SSEDecoder()
    events = [e for piece in pieces for e in decoder.feed(piece)] + decoder.close()
    return [(e.event, e.data) for e in events]


def test_it_decodes_a_whole_stream():
    assert decode([RECORDED]) == EXPECTED


def test_it_decodes_the_same_events_whatever_the_split():
    for cut in range(len(RECORDED) + 1):
        assert decode([RECORDED[:cut], RECORDED[cut:]]) == EXPECTED, cut


def test_it_decodes_byte_by_byte():
    assert decode([bytes([b]) for b in RECORDED]) == EXPECTED


def test_it_flushes_an_unterminated_last_event():
    assert decode([b"data: tail"]) == [("message", "tail")]
