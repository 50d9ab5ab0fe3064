import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _blob_storage(settings, tmp_path):
    # Each test gets its own blob storage, and the cached dropdown values start empty.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "blobs")},
        },
    }
    # And its own spool: records spooled by another run must not be replayed into this one.
    settings.LOG_SPOOL_DIR = tmp_path / "spool"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(client, django_user_model):
    """Not staff, but granted the permission to read the request log."""
    user: User = django_user_model.objects.create_user("viewer", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="view_requestlog"))
    client.force_login(user)
    return client


@pytest.fixture
def nobody_client(client, django_user_model):
    """Logged in, with no right to the logs."""
    client.force_login(django_user_model.objects.create_user("nobody", password="pw"))
    return client
