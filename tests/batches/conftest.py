"""The logs UI's fixtures: each test its own blob storage and log spool, cached dropdowns
emptied, and clients signed in as staff, a viewer, or nobody in particular."""

from tests.ui.conftest import _blob_storage, nobody_client, staff_client, viewer_client  # noqa: F401
