"""Reading settings from the environment (typed, with defaults), and the secrets generated once
under the data folder when the environment gives none (gateway/settings.py)."""

import base64
import os
import secrets
from pathlib import Path


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_secret(name: str) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/K8s secrets)."""
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return os.environ.get(name, "")


# --- secrets kept under the data folder ---
def persistent_secret_key(data_dir: Path) -> str:
    """Generated once and kept under DATA_DIR, so sessions survive restarts."""
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def persistent_encryption_keys(data_dir: Path) -> list[str]:
    """Generated once under DATA_DIR: convenient, but whoever copies DATA_DIR (a backup) gets
    the key with the database. Production should set IRIS_ENCRYPTION_KEY apart from both."""
    path = data_dir / "encryption_key"
    if not path.exists():
        # Written aside then hard-linked: two processes starting at once agree on one key.
        spare = data_dir / f".encryption_key.{os.getpid()}"
        with os.fdopen(os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        try:
            os.link(spare, path)
        except FileExistsError:
            pass
        finally:
            spare.unlink()
    return [path.read_text().strip()]
