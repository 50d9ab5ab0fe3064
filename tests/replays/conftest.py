import pytest
from asgiref.sync import sync_to_async

from gateway import http
from tests.ui.conftest import nobody_client, staff_client, viewer_client  # noqa: F401


@pytest.fixture(autouse=True)
def _blob_storage(settings, tmp_path):
    """Each test's own blob storage and spool, and a quick log writer."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "blobs")},
        },
    }
    settings.LOG_SPOOL_DIR = tmp_path / "spool"
    settings.LOG_FLUSH_SECONDS = 0.01


@pytest.fixture
async def closing_sessions():
    """The upstream sessions a test's replays opened belong to its event loop."""
    yield
    await http.close_sessions()


async def written(request_id: str):
    """The replay's row, once the log writer wrote it."""
    from gateway.log import writer
    from gateway.models import RequestLog

    await sync_to_async(writer.flush)()
    return await RequestLog.objects.aget(request_id=request_id)
