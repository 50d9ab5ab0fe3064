import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _blob_storage(settings, tmp_path):
    """Each test's own blob storage and spool; the list's cached dropdowns start empty."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "blobs")},
        },
    }
    settings.LOG_SPOOL_DIR = tmp_path / "spool"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    return client
