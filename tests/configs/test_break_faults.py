"""Faults a hostile world throws at a config run: retry storms, odd retry-after values, a
client that hangs up mid-backoff, a stream dying on the first target, timeouts of a
millisecond, every target refused by preflight. A docstring that starts "Was a bug" names a
bug the test reproduced before it was fixed."""

import base64
import json
import threading
import uuid

import httpx
import pytest

from tests.configs.routing import (
    answer,
    anthropic_leaf,
    attempts,
    chat,
    openai_leaf,
    routed_headers,
    user,
    wait_for,
)
from tests.conftest import IrisServer, png_bytes
from tests.fakes import bedrock as bedrock_fake
from tests.fakes.cued import Cued, cued_server
from tests.fakes.server import Reply

# A bug this test exposes: it fails until the bug is fixed (then drop the marker).


def fallback(*targets, **strategy) -> dict:
    return {"strategy": {"mode": "fallback", **strategy}, "targets": list(targets)}


def readable_logs(iris: IrisServer) -> None:
    """Let the test key read GET /v1/logs (new keys may not, by default), and wait out the
    server's key cache."""
    code = "from gateway.models import ApiKey; ApiKey.objects.update(can_read_logs=True)"
    iris.manage("shell", "-c", code)
    wait_for(
        lambda: httpx.get(f"{iris.url}/v1/logs", headers=iris.headers()).status_code == 200,
        timeout=15,
    )


@pytest.fixture(scope="module", autouse=True)
def _routing_logs_readable(routing_iris):
    readable_logs(routing_iris)


def bedrock_leaf(fake, **extra) -> dict:
    return {
        "provider": "bedrock",
        "custom_host": fake.url,
        "aws_access_key_id": bedrock_fake.ACCESS_KEY_ID,
        "aws_secret_access_key": bedrock_fake.SECRET_ACCESS_KEY,
        "aws_region": bedrock_fake.REGION,
        "override_params": {"model": "anthropic.claude-3-5-sonnet-20240620-v1:0"},
        **extra,
    }


# Retry storms: how many upstream calls can one client request cause? -------------------


@pytest.fixture(scope="module")
def storm_iris(tmp_path_factory):
    """Waits of a millisecond: a storm's calls counted, not its time."""
    server = IrisServer(
        tmp_path_factory.mktemp("storm"),
        GATEWAY_RETRY_BASE_WAIT="0.001",
        GATEWAY_RETRY_MAX_WAIT="0.002",
        GATEWAY_MAX_ATTEMPTS="600",  # past the worst config: its own bound measured
    ).start()
    readable_logs(server)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def always_500():
    with cued_server(lambda request: Cued.error(500, "down")) as server:
        yield server


def test_the_worst_config_is_bounded_at_594_upstream_calls_per_request(storm_iris, always_500):
    """The schema allows 100 nodes (so at most 99 leaves under one root) and 5 retries a
    leaf: 99 × 6 = 594 upstream calls for one client request, and no more."""
    leaf = {
        "provider": "openai",
        "api_key": "sk-storm",
        "custom_host": f"{always_500.url}/v1",
        "retry": {"attempts": 5},
    }
    before = len(always_500.cued.calls)
    response = chat(storm_iris, fallback(*[leaf] * 99))
    assert response.status_code == 500
    assert len(always_500.cued.calls) - before == 594
    assert response.headers["x-portkey-last-used-option-index"] == "config.targets[98]"
    assert response.headers["x-portkey-retry-attempt-count"] == "-1"
    logged = attempts(storm_iris, response.headers["x-iris-request-id"])
    assert len(logged) == 101  # the first and last 50, and how many in between were not


def test_the_log_keeps_the_first_and_last_attempts_past_100(storm_iris, always_500):
    """Was a bug: gateway/log/rows.py keeps r.attempts[:100]: past 100 attempts the log loses the
    last ones, which include the attempt whose answer the client got; the request page's
    chain ends at a target the response header does not name, and nothing says it was cut.
    Expected: keep the last attempts (or first and last) and note how many were dropped.
    gateway/log/rows.py:280 (`attempts=clean_json(r.attempts[:100])`)."""
    leaf = {
        "provider": "openai",
        "api_key": "sk-storm",
        "custom_host": f"{always_500.url}/v1",
        "retry": {"attempts": 5},
    }
    response = chat(storm_iris, fallback(*[leaf] * 21))  # 126 attempts
    logged = attempts(storm_iris, response.headers["x-iris-request-id"])
    assert logged[-1]["target"] == response.headers["x-portkey-last-used-option-index"]
    assert len(logged) == 101 and logged[50]["omitted"] == 26  # 50, a note of 26, 50


def test_a_request_costs_at_most_gateway_max_attempts_upstream_calls(routing_iris, always_500):
    """Whatever the config, one request makes at most GATEWAY_MAX_ATTEMPTS (50) attempts; the
    client gets the last error and is told the retries ran out (-1)."""
    leaf = {
        "provider": "openai",
        "api_key": "sk-storm",
        "custom_host": f"{always_500.url}/v1",
        "retry": {"attempts": 5},
    }
    before = len(always_500.cued.calls)
    response = chat(routing_iris, fallback(*[leaf] * 20))  # 120 attempts asked for
    assert response.status_code == 500
    assert len(always_500.cued.calls) - before == 50
    assert response.headers["x-portkey-retry-attempt-count"] == "-1"
    assert response.headers["x-portkey-last-used-option-index"] == "config.targets[8]"


def test_retries_set_on_nested_strategies_do_not_multiply(storm_iris, always_500):
    """retry on a strategy is inherited by its leaves, never a retry of the whole subtree:
    five nested fallbacks each asking for 5 attempts still cost 6 calls a leaf."""
    leaf = {"provider": "openai", "api_key": "sk-storm", "custom_host": f"{always_500.url}/v1"}
    node: dict = leaf
    for _ in range(5):
        node = {**fallback(node, leaf), "retry": {"attempts": 5}}
    before = len(always_500.cued.calls)
    response = chat(storm_iris, node)
    assert response.status_code == 500
    assert len(always_500.cued.calls) - before == 6 * 6  # 6 leaves, 6 calls each


# retry-after, as a hostile upstream sends it ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "retried"),
    [("0", True), ("-1", True), ("soon", True), ("1e3", True), ("99999999", False)],
)
def test_odd_retry_after_values_retry_or_stop_cleanly(routing_iris, cued_openai, value, retried):
    """0: at once; negative or not a number: ignored for the backoff; beyond
    GATEWAY_RETRY_MAX_WAIT: not retried (Portkey's -1)."""
    cued_openai.cued.cue(Cued.error(429, **{"retry-after": value}))
    config = openai_leaf(cued_openai, retry={"attempts": 2, "use_retry_after_header": True})
    response = chat(routing_iris, config)
    if retried:
        assert answer(response)
        assert len(cued_openai.cued.calls) == 2
        assert routed_headers(response)[:2] == ("config", "1")
    else:
        assert response.status_code == 429
        assert len(cued_openai.cued.calls) == 1
        assert response.headers["x-portkey-retry-attempt-count"] == "-1"


def test_a_client_hanging_up_during_a_backoff_is_logged_once_with_its_attempt(
    routing_iris, cued_openai
):
    """Iris waits the upstream's 5 s retry-after; the client leaves after 1 s. The record is
    written once, with the attempt that failed, and no retry is sent to the upstream."""
    cued_openai.cued.cue(Cued.error(503, **{"retry-after": "5"}))
    config = openai_leaf(cued_openai, retry={"attempts": 3, "use_retry_after_header": True})
    trace = f"hangup-{uuid.uuid4().hex}"
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{routing_iris.url}/v1/chat/completions",
            headers=routing_iris.headers(
                **{"x-portkey-config": json.dumps(config), "x-portkey-trace-id": trace}
            ),
            json={"model": "gpt-4o", "messages": user()},
            timeout=1,
        )
    [row] = routing_iris.find_logs(trace_id=trace)
    logged = routing_iris.log(row["request_id"])
    assert [a["status"] for a in logged["attempts"]] == [503]
    wait_for(lambda: len(cued_openai.cued.calls) >= 1)
    assert len(routing_iris.logs(trace_id=trace)["data"]) == 1
    assert len(cued_openai.cued.calls) == 1  # the retry never went


# Timeouts and streams ------------------------------------------------------------------


def test_a_request_timeout_of_one_millisecond_falls_back(routing_iris, cued_openai, cued_anthropic):
    cued_openai.cued.cue(Cued.slow(0.5))
    config = fallback(openai_leaf(cued_openai, request_timeout=1), anthropic_leaf(cued_anthropic))
    response = chat(routing_iris, config)
    assert answer(response)
    first, second = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert (first["status"], second["status"]) == (408, 200)
    assert response.headers["x-portkey-last-used-option-index"] == "config.targets[1]"


def test_a_stream_dying_on_the_first_target_does_not_fall_back_and_is_logged_as_failed(
    routing_iris, cued_openai, cued_anthropic
):
    """Once the first event reached the client there is nothing to fall back with: the
    client gets an error event, the record an error, and the attempt is its only one."""
    config = fallback(
        openai_leaf(cued_openai, override_params={"model": "die"}), anthropic_leaf(cued_anthropic)
    )
    response = chat(routing_iris, config, user("one two three four"), stream=True)
    assert response.status_code == 200
    assert '"error"' in response.text and "[DONE]" not in response.text
    assert cued_anthropic.cued.calls == []
    logged = routing_iris.log(response.headers["x-iris-request-id"])
    assert logged["error_type"] or logged["error_message"]
    [attempt] = logged["attempts"]
    assert attempt["target"] == "config.targets[0]"


def test_the_attempt_of_a_stream_that_died_carries_its_error(
    routing_iris, cued_openai, cued_anthropic
):
    """Was a bug: the attempt is written when forward() returns the stream's response, before a
    single event is relayed: a stream that then dies keeps attempt status 200 with no error,
    while the record says it failed. The attempt chain shown on the request page reads as a
    success. Expected: the attempt updated when the stream ends in an error (its error, as
    the record has it). gateway/configs/runner.py, _leaf (status set on return)."""
    config = fallback(
        openai_leaf(cued_openai, override_params={"model": "die"}), anthropic_leaf(cued_anthropic)
    )
    response = chat(routing_iris, config, user("one two three four"), stream=True)
    logged = routing_iris.log(response.headers["x-iris-request-id"])
    [attempt] = logged["attempts"]
    assert attempt.get("error"), attempt


def test_every_target_refused_by_preflight_costs_no_round_trip(routing_iris, cued_anthropic):
    wide = png_bytes(size=(8001, 40))
    uri = "data:image/png;base64," + base64.b64encode(wide).decode()
    leaves = [anthropic_leaf(cued_anthropic, retry={"attempts": 5}) for _ in range(3)]
    response = chat(routing_iris, fallback(*leaves), user("wide", uri))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "image_too_large"
    assert cued_anthropic.cued.calls == []
    logged = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert len(logged) == 3  # a skip is never retried
    assert all(a["skipped"] for a in logged)


def test_a_timeout_while_the_image_is_fetched_falls_back_to_a_target_that_takes_it(
    routing_iris, cued_bedrock
):
    """Bedrock needs the URL image's bytes, so Iris fetches them; the image host takes 1.5 s
    and the first target's timeout is 300 ms. The fallback (Bedrock again) gets the image."""
    image = png_bytes(size=(7, 7))
    served = []

    def slow_image(request):
        served.append(request.path)
        return Reply(200, image, {"content-type": "image/png"}, delay=1.5)

    with cued_server(slow_image) as host:
        config = fallback(
            bedrock_leaf(cued_bedrock, request_timeout=300), bedrock_leaf(cued_bedrock)
        )
        response = chat(routing_iris, config, user("img", f"{host.url}/slow.png"))
    assert "img" in answer(response)
    first, second = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert (first["status"], second["status"]) == (408, 200)
    assert len(cued_bedrock.cued.calls) == 1  # the first never reached the upstream


def test_concurrent_hostile_requests_each_get_their_own_route(routing_iris, cued_openai):
    """Twenty concurrent requests share twenty cued 500s: each retries until it gets an
    answer. Every record holds its own attempts only: together, exactly the 40 calls made."""
    cued_openai.cued.cue(*[Cued.error(500)] * 20)
    config = openai_leaf(cued_openai, retry={"attempts": 5})
    results: list[httpx.Response] = []

    def one(i: int) -> None:
        results.append(chat(routing_iris, config, user(f"n{i}")))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200] * 20
    assert len(cued_openai.cued.calls) == 40
    logged = [attempts(routing_iris, r.headers["x-iris-request-id"]) for r in results]
    assert sum(len(chain) for chain in logged) == 40
    for chain in logged:
        assert [a["retry"] for a in chain] == list(range(len(chain)))
        assert [a["status"] for a in chain] == [500] * (len(chain) - 1) + [200]
