import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _blob_storage(settings, tmp_path):
    """Each test its own blob storage and log spool; the list's cached dropdowns start empty
    (the model filter consults them)."""
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
    client.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    return client
