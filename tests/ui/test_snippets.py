import shlex
import subprocess

from gateway.models import RequestLog
from logs_ui import snippets

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "it's $(whoami) `id`"}]}


def _log(headers: dict) -> RequestLog:
    return RequestLog(request_headers=headers)


def test_it_replays_gateway_headers_with_secrets_as_env_vars():
    headers = snippets.replay_headers(
        _log(
            {
                "x-portkey-provider": "azure-openai",
                "x-portkey-api-key": "[redacted]",
                "x-portkey-virtual-key": "[redacted]",
                "x-portkey-azure-deployment-id": "vision-prod",
                "authorization": "[redacted]",
                "user-agent": "OpenAI/Python 1.50",
            }
        )
    )
    assert headers == {
        "x-portkey-api-key": "$IRIS_API_KEY",
        "x-portkey-azure-deployment-id": "vision-prod",
        "x-portkey-provider": "azure-openai",
        "x-portkey-virtual-key": "$VIRTUAL_KEY",
        "authorization": "Bearer $PROVIDER_API_KEY",
    }


def test_it_never_lets_the_shell_expand_logged_values():
    headers = {"x-portkey-api-key": "$IRIS_API_KEY", "x-portkey-trace-id": "$(touch /tmp/pwn)"}
    command = snippets.curl(BODY, url="http://127.0.0.1:1/v1/chat/completions", headers=headers)
    assert "-H 'x-portkey-trace-id: $(touch /tmp/pwn)'" in command
    # Run it with a stand-in curl that prints its arguments and the body it was given.
    fake_curl = 'curl() { printf "%s\\n" "$@"; cat; }\n'
    printed = subprocess.run(
        ["bash", "-c", fake_curl + command],
        capture_output=True,
        text=True,
        check=True,
        env={"IRIS_API_KEY": "k"},
    ).stdout
    assert "x-portkey-trace-id: $(touch /tmp/pwn)" in printed
    assert "x-portkey-api-key: k" in printed  # our own placeholder is expanded
    assert "it's $(whoami) `id`" in printed


def test_it_quotes_header_values_for_the_shell():
    line = snippets._header("x-portkey-metadata", '{"team": "it\'s"}')
    assert shlex.split(line) == ["-H", 'x-portkey-metadata: {"team": "it\'s"}']


def test_it_writes_python_that_compiles_and_round_trips_the_body():
    text = snippets.python(BODY, base_url="http://h/v1", headers={"x-portkey-provider": "openai"})
    compile(text, "snippet.py", "exec")
    namespace: dict = {}
    exec(
        text.split("request = ", 1)[1].split("\nresponse", 1)[0].join(["request = ", ""]), namespace
    )
    assert namespace["request"] == BODY
    assert "api_key='unused'" in text
