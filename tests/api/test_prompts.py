"""Saved prompts over real sockets: the portkey-ai SDK's prompts API against a real Iris, whose
database holds the prompts and a Provider pointing at the fake OpenAI upstream."""

import base64
import hashlib
import json
import uuid

import httpx
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from portkey_ai import Portkey
from portkey_ai.api_resources.exceptions import APIStatusError

from tests.conftest import SHARED_IMAGES

CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()
CAT_URI = "data:image/png;base64," + base64.b64encode(CAT).decode()
LOGO = (SHARED_IMAGES / "coffee.png").read_bytes()

SETUP = """
from gateway import prompts
from gateway.models import Prompt, Provider

# Idempotent: on PostgreSQL the server's database outlives a test run.
Prompt.objects.filter(slug__in=["describe", "logo-check"]).delete()
Provider.objects.filter(slug="prompt-openai").delete()
provider = Provider(slug="prompt-openai", name="fake", kind="openai", base_url={openai!r})
provider.set_credential("api_key", "sk-prompt-admin-key")
provider.save()

describe = Prompt.objects.create(slug="describe", name="Describe a photo",
    provider="@prompt-openai", model="gpt-4o")
photo = {{"type": "image_url", "image_url": {{"url": "{{{{photo}}}}", "detail": "low"}}}}
prompts.save_version(describe, params={{"temperature": 0.2}}, note="first", messages=[
    {{"role": "system", "content": "You answer in {{{{tone}}}} words."}},
    {{"role": "user", "content": [{{"type": "text", "text": "v1: {{{{subject}}}}"}}, photo]}},
])
prompts.save_version(describe, params={{"temperature": 0.2, "max_tokens": 50}}, messages=[
    {{"role": "system", "content": "You answer in {{{{tone}}}} words."}},
    {{"role": "user", "content": [
        {{"type": "text", "text": "Describe {{{{subject}}}} <&>"}}, photo]}},
])

logo = prompts.store_image(open({logo!r}, "rb").read())
check = Prompt.objects.create(slug="logo-check", name="Logo", provider="@prompt-openai",
    model="gpt-4o-mini")
prompts.save_version(check, messages=[{{"role": "user", "content": [
    {{"type": "image_url", "image_url": {{"url": "iris-blob:" + logo.sha256}}}},
    {{"type": "image_url", "image_url": {{"url": "{{{{photo}}}}"}}}},
    {{"type": "text", "text": "Same logo?"}},
]}}])
print("ok")
"""


@pytest.fixture(scope="module")
def saved_prompts(iris, fake_openai) -> None:
    code = SETUP.format(openai=f"{fake_openai.url}/v1", logo=str(SHARED_IMAGES / "coffee.png"))
    assert iris.manage("shell", "-c", code).splitlines()[-1] == "ok"


def client(iris, **options) -> Portkey:
    return Portkey(api_key=iris.key, base_url=f"{iris.url}/v1", **options)


def logged(iris, trace_id: str) -> dict:
    rows = iris.find_logs(trace_id=trace_id)
    assert rows, f"no log for trace {trace_id}"
    return iris.log(rows[0]["request_id"])


@pytest.mark.parametrize("stream", [False, True])
def test_it_runs_a_prompt_with_a_url_image_variable(iris, saved_prompts, fake_openai, stream):
    trace = f"prompt-{uuid.uuid4().hex[:8]}"
    photo = f"{fake_openai.url}/images/rocket.jpg"
    result = client(iris, trace_id=trace).prompts.completions.create(
        prompt_id="describe",
        variables={"tone": "few", "subject": "the rocket", "photo": photo},
        stream=stream,
    )
    if stream:
        chunks = [ChatCompletionChunk.model_validate(c.model_dump()) for c in result]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        text = ChatCompletion.model_validate(result.model_dump()).choices[0].message.content
    # HTML escaping is off: the text goes upstream exactly as written.
    assert text == "I see 1 image(s). You said: Describe the rocket <&>"
    sent = fake_openai.last("POST").json()
    assert sent["model"] == "gpt-4o" and sent["temperature"] == 0.2 and sent["max_tokens"] == 50
    assert sent["messages"][0] == {"role": "system", "content": "You answer in few words."}
    assert sent["messages"][1]["content"][1]["image_url"] == {"url": photo, "detail": "low"}
    assert "variables" not in sent
    log = logged(iris, trace)
    assert (log["prompt"], log["prompt_version"], log["is_stream"]) == ("describe", 2, stream)
    assert log["prompt_variables"] == {"tone": "few", "subject": "the rocket", "photo": photo}
    assert log["provider_slug"] == "prompt-openai" and log["model"] == "gpt-4o"
    assert [image["url"] for image in log["images"]] == [photo]


@pytest.mark.parametrize("stream", [False, True])
def test_it_takes_an_image_variable_as_a_data_uri(iris, saved_prompts, fake_openai, stream):
    trace = f"prompt-{uuid.uuid4().hex[:8]}"
    variables = {"tone": "three", "subject": "the cat", "photo": CAT_URI}
    result = client(iris, trace_id=trace).prompts.completions.create(
        prompt_id="describe", variables=variables, stream=stream
    )
    text = (
        "".join(c.choices[0].delta.content or "" for c in result if c.choices)
        if stream
        else result.choices[0].message.content
    )
    assert text == "I see 1 image(s). You said: Describe the cat <&>"
    sent = fake_openai.last("POST").json()
    assert sent["messages"][1]["content"][1]["image_url"]["url"] == CAT_URI
    log = logged(iris, trace)
    sha = hashlib.sha256(CAT).hexdigest()
    # The log keeps the image once, as a blob: the variable refers to it.
    assert log["prompt_variables"]["photo"] == f"iris-blob:{sha}"
    assert log["images"][0]["sha256"] == sha and log["images"][0]["origin"] == "base64"


def test_it_sends_a_fixed_image_saved_in_the_template(iris, saved_prompts, fake_openai):
    photo = f"{fake_openai.url}/images/rocket.jpg"
    result = client(iris).prompts.completions.create(
        prompt_id="logo-check", variables={"photo": photo}
    )
    assert result.choices[0].message.content == "I see 2 image(s). You said: Same logo?"
    content = fake_openai.last("POST").json()["messages"][0]["content"]
    assert content[0]["image_url"]["url"] == (
        "data:image/png;base64," + base64.b64encode(LOGO).decode()
    )
    assert content[1]["image_url"]["url"] == photo


def test_it_pins_a_version(iris, saved_prompts, fake_openai):
    portkey = client(iris)
    variables = {"tone": "few", "subject": "it", "photo": CAT_URI}
    first = portkey.prompts.completions.create(prompt_id="describe@1", variables=variables)
    assert first.choices[0].message.content == "I see 1 image(s). You said: v1: it"
    assert "max_tokens" not in fake_openai.last("POST").json()
    latest = portkey.prompts.completions.create(prompt_id="describe@latest", variables=variables)
    assert latest.choices[0].message.content.endswith("Describe it <&>")


def test_it_renders_without_calling_the_model(iris, saved_prompts, fake_openai):
    before = len(fake_openai.received)
    rendered = client(iris).prompts.render(
        prompt_id="describe", variables={"tone": "few", "subject": "x", "photo": CAT_URI}
    )
    assert len(fake_openai.received) == before
    assert rendered.success is True
    data = rendered.data
    assert data.model == "@prompt-openai/gpt-4o" and data.max_tokens == 50
    assert data.temperature == 0.2
    assert data.messages[0].content == "You answer in few words."
    assert data.messages[1].content[1] == {
        "type": "image_url",
        "image_url": {"url": CAT_URI, "detail": "low"},
    }
    pinned = client(iris).prompts.render(
        prompt_id="describe@1",
        variables={"tone": "few", "subject": "x", "photo": CAT_URI},
        temperature=0.9,
    )
    assert pinned.data.messages[1].content[0]["text"] == "v1: x"
    assert pinned.data.temperature == 0.9  # the caller's override wins


def test_a_rendered_request_can_be_sent_as_is(iris, saved_prompts):
    rendered = client(iris).prompts.render(
        prompt_id="describe", variables={"tone": "few", "subject": "y", "photo": CAT_URI}
    )
    body = rendered.data.model_dump(exclude_none=True)
    response = httpx.post(f"{iris.url}/v1/chat/completions", json=body, headers=iris.headers())
    assert response.json()["choices"][0]["message"]["content"].endswith("Describe y <&>")


def _error(call) -> tuple[int, dict]:
    with pytest.raises(APIStatusError) as caught:
        call()
    response = caught.value.response
    return response.status_code, json.loads(response.text)["error"]


def test_it_names_a_missing_variable(iris, saved_prompts):
    status, error = _error(
        lambda: client(iris).prompts.completions.create(
            prompt_id="describe", variables={"tone": "few"}
        )
    )
    assert status == 400 and error["code"] == "missing_variable"
    assert error["message"] == "Missing prompt variable(s): subject, photo."
    status, error = _error(
        lambda: client(iris).prompts.render(prompt_id="describe", variables={"subject": "x"})
    )
    assert status == 400 and "tone, photo" in error["message"]


@pytest.mark.parametrize(
    ("prompt_id", "code"),
    [
        ("nope", "prompt_not_found"),
        ("describe@99", "prompt_version_not_found"),
        ("describe@first", "prompt_not_found"),
    ],
)
def test_it_answers_404_for_an_unknown_prompt_or_version(iris, saved_prompts, prompt_id, code):
    status, error = _error(
        lambda: client(iris).prompts.completions.create(prompt_id=prompt_id, variables={})
    )
    assert (status, error["code"]) == (404, code)
    status, error = _error(lambda: client(iris).prompts.render(prompt_id=prompt_id, variables={}))
    assert (status, error["code"]) == (404, code)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"tone": ["a"], "subject": "x", "photo": CAT_URI}, "'tone' must be a string"),
        ({"tone": "a", "subject": "x", "photo": "a cat"}, "photo (messages[1].content[1]"),
        ({"tone": "a", "subject": "x", "photo": "iris-blob:" + "0" * 64}, "must be an http(s)"),
        ({"tone": "a", "subject": "x", "photo": "data:image/png;base64,bm9wZQ=="}, "the image"),
    ],
)
def test_it_refuses_a_variable_of_the_wrong_kind(iris, saved_prompts, variables, message):
    response = httpx.post(
        f"{iris.url}/v1/prompts/describe/completions",
        json={"variables": variables},
        headers=iris.headers(),
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert response.headers["x-iris-request-id"]


def test_stream_must_be_a_json_boolean(iris, saved_prompts):
    variables = {"tone": "a", "subject": "x", "photo": CAT_URI}
    for path in ("completions", "render"):
        response = httpx.post(
            f"{iris.url}/v1/prompts/describe/{path}",
            json={"variables": variables, "stream": "yes"},
            headers=iris.headers(),
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("invalid_request", "stream")


def test_it_needs_the_gateway_key(iris, saved_prompts):
    for path in ("completions", "render"):
        response = httpx.post(f"{iris.url}/v1/prompts/describe/{path}", json={"variables": {}})
        assert response.status_code == 401
