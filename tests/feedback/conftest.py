from tests.ui.conftest import _blob_storage, nobody_client, staff_client  # noqa: F401
