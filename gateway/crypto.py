"""Provider credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`.

IRIS_ENCRYPTION_KEYS holds one or more Fernet keys, newest first: the first encrypts, any of
them decrypts (MultiFernet), so a key is rotated by putting a new one in front, running
`manage.py rotate_credentials`, then dropping the old one. Plain secrets never leave this
module in an error message or a log line.
"""

import base64
import binascii

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_fernets: dict[tuple[str, ...], MultiFernet] = {}


class DecryptionError(Exception):
    """A stored secret does not open with any configured key (the key changed or was lost)."""


def _fernet() -> MultiFernet:
    keys = tuple(settings.IRIS_ENCRYPTION_KEYS)
    if keys not in _fernets:
        if not keys:
            raise ImproperlyConfigured("IRIS_ENCRYPTION_KEY is empty.")
        _fernets[keys] = MultiFernet([_key(key, n) for n, key in enumerate(keys, 1)])
    return _fernets[keys]


def _key(key: str, n: int) -> Fernet:
    try:
        if len(base64.urlsafe_b64decode(key.encode())) == 32:
            return Fernet(key)
    except (binascii.Error, ValueError):
        pass
    # Never echo the value: it is a secret, even when malformed.
    raise ImproperlyConfigured(
        f"IRIS_ENCRYPTION_KEY entry {n} is not a Fernet key (32 url-safe base64-encoded "
        "bytes). Generate one with: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'"
    )


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "stored credentials cannot be decrypted with IRIS_ENCRYPTION_KEY "
            "(was the key changed or lost?)"
        ) from None


def rotate(token: str) -> str:
    """The same secret, encrypted again under the first (newest) key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("stored credentials cannot be decrypted for rotation") from None


def mask(secret: str) -> str:
    """Enough to recognise a secret, never enough to use it: `sk-…a1b2`."""
    if not secret:
        return ""
    if len(secret) < 16:  # short secrets would give too much away: say only that one is set
        return "•" * 8
    return f"{secret[:3]}…{secret[-4:]}"


def mask_all(text: str, secrets: list[str]) -> str:
    """The text with each of the secrets in it masked."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, mask(secret))
    return text


def mask_all_json(value: dict, secrets: list[str]) -> dict:
    """mask_all, over every string of a JSON object."""
    text = orjson.dumps(value).decode()
    masked = mask_all(text, secrets)
    return value if masked == text else orjson.loads(masked)
