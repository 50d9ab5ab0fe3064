"""Provider credentials at rest: Fernet, key rotation, masking, and no secret in errors."""

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from gateway import crypto
from gateway.models import Provider

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_it_encrypts_so_the_token_holds_no_plain_text(settings):
    settings.IRIS_ENCRYPTION_KEYS = [NEW]
    token = crypto.encrypt("sk-live-secret-1234567890")
    assert "sk-live" not in token and "1234567890" not in token
    assert crypto.decrypt(token) == "sk-live-secret-1234567890"


def test_it_decrypts_with_an_older_key_and_rotates_to_the_newest(settings):
    settings.IRIS_ENCRYPTION_KEYS = [OLD]
    token = crypto.encrypt("secret")
    settings.IRIS_ENCRYPTION_KEYS = [NEW, OLD]
    assert crypto.decrypt(token) == "secret"
    rotated = crypto.rotate(token)
    settings.IRIS_ENCRYPTION_KEYS = [NEW]
    assert crypto.decrypt(rotated) == "secret"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_it_says_a_key_is_lost_without_showing_the_token(settings):
    settings.IRIS_ENCRYPTION_KEYS = [OLD]
    token = crypto.encrypt("secret")
    settings.IRIS_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(crypto.DecryptionError) as caught:
        crypto.decrypt(token)
    assert "IRIS_ENCRYPTION_KEY" in str(caught.value) and token not in str(caught.value)


def test_it_refuses_a_malformed_key_without_echoing_it(settings):
    settings.IRIS_ENCRYPTION_KEYS = [NEW, "my-password-123"]
    with pytest.raises(ImproperlyConfigured) as caught:
        crypto.encrypt("x")
    assert "entry 2" in str(caught.value) and "my-password-123" not in str(caught.value)


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("", ""),
        ("short", "••••••••"),
        ("0123456789abcde", "••••••••"),
        ("sk-proj-abcdefghijklmnopqrstuvwxyza1b2", "sk-…a1b2"),
        ("AKIAIOSFODNN7EXAMPLE", "AKI…MPLE"),
    ],
)
def test_it_masks_secrets(secret, masked):
    assert crypto.mask(secret) == masked


def test_it_generates_a_key_once_under_the_data_dir(tmp_path):
    code = "from django.conf import settings; print(settings.IRIS_ENCRYPTION_KEYS[0])"
    env = {"IRIS_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    run = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    first, second = (
        subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout.strip()
        for _ in range(2)
    )
    assert first == second and Fernet(first)
    key_file = tmp_path / "encryption_key"
    assert key_file.read_text() == first and key_file.stat().st_mode & 0o777 == 0o600


@pytest.mark.django_db
def test_it_rotates_every_providers_credentials_to_the_newest_key(settings):
    settings.IRIS_ENCRYPTION_KEYS = [OLD]
    provider = Provider(slug="p", name="P", kind="openai")
    provider.set_credential("api_key", "sk-rotate-me-0000000000")
    provider.save()
    settings.IRIS_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_credentials")
    settings.IRIS_ENCRYPTION_KEYS = [NEW]
    assert Provider.objects.get(pk=provider.pk).credential("api_key") == "sk-rotate-me-0000000000"
