"""Export a filter's records as a dataset from the list, in a real browser: the filter chosen
in the form (after the page was drawn) is the one exported, the progress shows the records,
and the download is the zip."""

import hashlib

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.exports.zips import read_export
from tests.ui.logs import make_log, png

pytestmark = pytest.mark.browser


def test_export_downloads_the_zip_of_the_current_filter(page, live_server, tmp_path):
    red, blue = png((40, 30), color=(200, 0, 0)), png((40, 30), color=(0, 0, 200))
    wanted = [make_log(f"ocr {i}", images=[red, blue], metadata={"app": "ocr"}) for i in range(3)]
    make_log("other", images=[png((10, 10))], metadata={"app": "chat"})
    page.goto(f"{live_server.url}/logs/")
    page.fill("input[name=metadata]", "app=ocr")
    page.press("input[name=metadata]", "Enter")
    page.wait_for_function("document.querySelectorAll('tr.r').length === 3")

    link = page.get_by_role("link", name="Export dataset")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith("iris-dataset-")
    path = tmp_path / "export.zip"
    download.save_as(path)
    status = page.locator(".export-status")
    status.filter(has_text="Exported 3 records").wait_for()
    assert page.locator(".export-progress").evaluate("bar => bar.value") == 1
    page.locator(".filters").screenshot(path=ARTIFACTS / "export-done.png")

    lines, images, _ = read_export(path.read_bytes())
    assert [line["id"] for line in lines] == [log.id for log in wanted]
    assert sorted(images) == sorted(
        f"images/{hashlib.sha256(b).hexdigest()}.png" for b in (red, blue)
    )
