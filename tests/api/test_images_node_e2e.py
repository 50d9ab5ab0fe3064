"""The official `openai` Node SDK and the Vercel AI SDK (`generateImage` with @ai-sdk/openai)
against a real Iris and the fake OpenAI: the scripts in tests/node print what the SDK returned,
and the log must hold the same bytes.

The packages are pinned by tests/node/package-lock.json and installed with `npm ci` when
tests/node/node_modules is missing. Without `node` these tests skip, unless IRIS_REQUIRE_NODE
is set (CI), where they fail.
"""

import base64
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from PIL import Image as PILImage

from tests.conftest import SHARED_IMAGES, png_bytes
from tests.fakes import openai_images as fake_images

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
CAT = SHARED_IMAGES / "chelsea.png"  # 451x300


@pytest.fixture(scope="session")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("IRIS_REQUIRE_NODE"):
            pytest.fail("node and npm are required (IRIS_REQUIRE_NODE is set)")
        pytest.skip("node/npm not installed: the Node SDK tests need them")
    if not (NODE_DIR / "node_modules").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return node


def run(node: str, script: str, config: dict) -> dict:
    done = subprocess.run(
        [node, str(NODE_DIR / script), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=NODE_DIR,
    )
    assert done.stdout, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def target(iris, fake_openai) -> dict:
    """Where the SDKs send: Iris, with Portkey's headers naming the fake OpenAI."""
    return {
        "baseURL": f"{iris.url}/v1",
        "apiKey": "sk-provider-secret",
        "headers": iris.headers(
            **{"x-portkey-provider": "openai", "x-portkey-custom-host": f"{fake_openai.url}/v1"}
        ),
    }


@pytest.fixture
def mask(tmp_path) -> Path:
    picture = PILImage.new("RGBA", (451, 300), (0, 0, 0, 255))
    picture.paste((0, 0, 0, 0), (0, 0, 200, 300))
    path = tmp_path / "mask.png"
    picture.save(path)
    return path


def stored(iris, image: dict) -> bytes:
    response = httpx.get(image["content_url"], headers=iris.headers())
    response.raise_for_status()
    return response.content


def finals(log: dict) -> list[dict]:
    return [img for img in log["output_images"] if not img["partial"]]


def test_openai_node_sdk_generates(node, target, iris, fake_openai):
    params = {"model": "gpt-image-2", "prompt": "a red kite", "n": 2, "size": "1536x1024"}
    out = run(node, "openai_images.mjs", {**target, "action": "generate", "params": params})
    received = [base64.b64decode(item["b64_json"]) for item in out["result"]["data"]]
    assert PILImage.open(io.BytesIO(received[0])).size == (1536, 1024)
    assert out["result"]["usage"]["output_tokens"] == 544
    assert fake_openai.last("POST").json() == params
    log = iris.log(out["requestId"])
    assert log["endpoint"] == "images.generations"
    assert [stored(iris, img) for img in finals(log)] == received


def test_openai_node_sdk_edits_several_images_with_a_mask(node, target, iris, fake_openai, mask):
    second = mask.parent / "green.png"
    second.write_bytes(png_bytes(size=(40, 30), color=(0, 255, 0)))
    config = {
        **target,
        "action": "edit",
        "params": {"model": "gpt-image-2", "prompt": "add a hat", "quality": "low"},
        "images": [str(CAT), str(second)],
        "mask": str(mask),
    }
    out = run(node, "openai_images.mjs", config)
    assert "error" not in out, out
    fields, files = fake_images.parse_multipart(fake_openai.last("POST"))
    assert files["image[]"] == [CAT.read_bytes(), second.read_bytes()]
    assert files["mask"] == [mask.read_bytes()]
    assert fields == {"model": "gpt-image-2", "prompt": "add a hat", "quality": "low"}
    log = iris.log(out["requestId"])
    assert [img["role"] for img in log["images"]] == ["input", "input", "mask"]
    assert [stored(iris, img) for img in log["images"]] == [
        CAT.read_bytes(),
        second.read_bytes(),
        mask.read_bytes(),
    ]
    [final] = finals(log)
    assert stored(iris, final) == base64.b64decode(out["result"]["data"][0]["b64_json"])


@pytest.mark.parametrize("action", ["stream-generate", "stream-edit"])
def test_openai_node_sdk_streams_partial_images(node, target, iris, action):
    kind = "image_edit" if action == "stream-edit" else "image_generation"
    config = {
        **target,
        "action": action,
        "params": {"model": "gpt-image-2", "prompt": "a moon", "partial_images": 2},
        "images": [str(CAT)],
    }
    out = run(node, "openai_images.mjs", config)
    assert [e["type"] for e in out["events"]] == [f"{kind}.partial_image"] * 2 + [
        f"{kind}.completed"
    ]
    log = iris.log(out["requestId"])
    assert log["is_stream"]
    [final] = finals(log)
    assert stored(iris, final) == base64.b64decode(out["events"][-1]["b64_json"])
    partials = [img for img in log["output_images"] if img["partial"]]
    assert [stored(iris, img) for img in partials] == [
        base64.b64decode(e["b64_json"]) for e in out["events"][:2]
    ]


def test_openai_node_sdk_gets_the_400_for_a_bad_mask(node, target, iris, fake_openai, tmp_path):
    small = tmp_path / "small.png"
    small.write_bytes(png_bytes(size=(8, 8), mode="RGBA"))
    before = len([r for r in fake_openai.received if r.method == "POST"])
    config = {
        **target,
        "action": "edit",
        "params": {"model": "gpt-image-2", "prompt": "x"},
        "images": [str(CAT)],
        "mask": str(small),
    }
    out = run(node, "openai_images.mjs", config)
    assert out["error"]["status"] == 400 and "same size" in out["error"]["message"]
    assert len([r for r in fake_openai.received if r.method == "POST"]) == before


def test_vercel_ai_sdk_generates(node, target, iris, fake_openai):
    config = {**target, "model": "gpt-image-2", "prompt": "a blue bird", "n": 2}
    config["size"] = "1024x1024"
    out = run(node, "vercel_images.mjs", config)
    assert "error" not in out, out
    received = [base64.b64decode(image["base64"]) for image in out["images"]]
    assert len(received) == 2 and out["images"][0]["mediaType"] == "image/png"
    sent = fake_openai.last("POST").json()
    assert sent == {"model": "gpt-image-2", "prompt": "a blue bird", "n": 2, "size": "1024x1024"}
    assert out["usage"]["outputTokens"] == 544
    [request_id] = out["requestIds"]
    log = iris.log(request_id)
    assert [stored(iris, img) for img in finals(log)] == received


def test_vercel_ai_sdk_edits_with_a_mask(node, target, iris, fake_openai, mask):
    config = {**target, "model": "gpt-image-2", "prompt": "a scarf"}
    config |= {"images": [str(CAT)], "mask": str(mask)}
    out = run(node, "vercel_images.mjs", config)
    assert "error" not in out, out
    fields, files = fake_images.parse_multipart(fake_openai.last("POST"))
    assert files == {"image": [CAT.read_bytes()], "mask": [mask.read_bytes()]}
    log = iris.log(out["requestIds"][0])
    assert log["endpoint"] == "images.edits"
    [final] = finals(log)
    assert stored(iris, final) == base64.b64decode(out["images"][0]["base64"])
