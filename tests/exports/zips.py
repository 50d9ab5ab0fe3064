"""Reading an exported dataset zip back in tests."""

import io
import json
import zipfile


def read_export(data: bytes) -> tuple[list[dict], dict[str, bytes], list[str]]:
    """(the data.jsonl lines, the images by name, every entry's name in order); checks the
    zip's CRCs and that data.jsonl is one JSON object per line."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        text = zf.read("data.jsonl").decode()
        images = {n: zf.read(n) for n in names if n.startswith("images/")}
    assert text.endswith("\n") or text == ""
    lines = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(line, dict) for line in lines)
    return lines, images, names
