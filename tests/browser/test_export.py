"""Export a filter's records as a dataset from the list, in a real browser: the filter chosen
in the form (after the page was drawn) is the one exported, the progress shows the records,
and the download is the zip; past the tab's memory limit the browser downloads it itself."""

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
    assert download.url.startswith("blob:")  # streamed into the tab, with the progress bar
    path = tmp_path / "export.zip"
    download.save_as(path)
    status = page.locator(".export-status")
    status.filter(has_text="Exported 3 records").wait_for()
    assert page.locator(".export-progress").evaluate("bar => bar.value") == 1
    assert page.get_by_role("button", name="Cancel").is_hidden()  # nothing left to cancel
    page.locator(".filters").screenshot(path=ARTIFACTS / "export-done.png")

    lines, images, _ = read_export(path.read_bytes())
    assert [line["id"] for line in lines] == [log.id for log in wanted]
    assert sorted(images) == sorted(
        f"images/{hashlib.sha256(b).hexdigest()}.png" for b in (red, blue)
    )


def test_an_export_past_the_memory_limit_is_the_browsers_own_download(page, live_server, tmp_path):
    red, blue = png((40, 30), color=(200, 0, 0)), png((40, 30), color=(0, 0, 200))
    logs = [make_log(f"ocr {i}", images=[red, blue]) for i in range(2)]
    page.goto(f"{live_server.url}/logs/")
    # The limit is 256 MB of images; lowered to 100 bytes, these two images are past it.
    page.locator("[data-export-box]").evaluate("box => { box.dataset.memoryLimit = '100'; }")

    with page.expect_download() as info:
        page.get_by_role("link", name="Export dataset").click()
    download = info.value
    # Not a blob: built in the tab, but the export's URL, which the browser writes to disk.
    assert download.url.startswith(f"{live_server.url}/logs/export/"), download.url
    assert download.suggested_filename.startswith("iris-dataset-")
    path = tmp_path / "export.zip"
    download.save_as(path)
    page.locator(".export-status").filter(has_text="browser downloads it directly").wait_for()
    assert page.locator("[data-export-box]").get_attribute("data-mode") == "native"
    assert page.locator(".export-progress").is_hidden()
    assert page.get_by_role("button", name="Cancel").is_hidden()
    page.locator(".filters").screenshot(path=ARTIFACTS / "export-native.png")

    lines, images, _ = read_export(path.read_bytes())
    assert [line["id"] for line in lines] == [log.id for log in logs]
    assert sorted(images) == sorted(
        f"images/{hashlib.sha256(b).hexdigest()}.png" for b in (red, blue)
    )
