// "Export dataset": streams the zip of the filters now in the list's form (the bar is not
// redrawn when htmx refreshes the results), with a progress bar. The server sends the record
// count and the image bytes first (X-Iris-Export-Records, X-Iris-Export-Image-Bytes) and the
// images before data.jsonl, so bytes received over image bytes is the progress. Loaded once.
// The tab holds what it streams until the end (a Blob to offer), so past MEMORY_LIMIT of
// images the export is handed to the browser's own download instead, which writes to disk:
// no progress bar then (the browser's downloads show it). data-memory-limit on the box
// overrides the limit (bytes), e.g. for tests.
if (!window.irisExport) {
  window.irisExport = true;
  const MEMORY_LIMIT = 256 * 1048576;
  const mb = (n) => (n / 1048576).toFixed(n < 10485760 ? 1 : 0) + " MB";

  const memoryLimit = (box) => {
    const set = Number.parseInt(box.dataset.memoryLimit ?? "", 10);
    return Number.isFinite(set) && set >= 0 ? set : MEMORY_LIMIT;
  };

  // Offers href as a download. For the export's own URL the browser streams it to disk (the
  // server's Content-Disposition names it); for a blob: URL, name is the file's name.
  const save = (href, name = "") => {
    const link = document.createElement("a");
    link.href = href;
    link.download = name;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
  };

  const exportUrl = (link) => {
    const form = document.getElementById("filters");
    if (!form) return link.href;
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (typeof value === "string" && value.trim() && !["before", "after", "live"].includes(name)) {
        params.append(name, value);
      }
    }
    const query = params.toString();
    return link.pathname + (query ? "?" + query : "");
  };

  const filename = (response) => {
    const found = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return found ? found[1] : "iris-dataset.zip";
  };

  async function run(link) {
    const box = link.closest("[data-export-box]");
    const bar = box.querySelector(".export-progress");
    const status = box.querySelector(".export-status");
    const panel = box.querySelector(".export-run");
    const cancel = box.querySelector(".export-cancel");
    const abort = new AbortController();
    const show = (text, error = false) => {
      status.textContent = text;
      status.classList.toggle("error", error);
    };
    link.setAttribute("aria-disabled", "true");
    panel.hidden = false;
    cancel.hidden = false;
    cancel.onclick = () => abort.abort();
    bar.hidden = false;
    bar.removeAttribute("value"); // indeterminate until the first bytes
    show("Starting…");
    const url = exportUrl(link);
    try {
      const response = await fetch(url, { credentials: "same-origin", signal: abort.signal });
      if (!response.ok) {
        let message = `Export failed (${response.status}).`;
        try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
        throw new Error(message);
      }
      const records = Number(response.headers.get("X-Iris-Export-Records") || 0);
      const imageBytes = Number(response.headers.get("X-Iris-Export-Image-Bytes") || 0);
      box.dataset.records = String(records);
      if (imageBytes > memoryLimit(box)) {
        abort.abort(); // the server stops this copy; the browser's download asks again
        bar.hidden = true;
        box.dataset.mode = "native";
        save(url);
        show(`${records} records · ${mb(imageBytes)} of images: too large to hold in this tab, ` +
          "so your browser downloads it directly (see its downloads for progress).");
        return;
      }
      box.dataset.mode = "stream";
      const reader = response.body.getReader();
      const parts = [];
      let received = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        received += value.length;
        if (imageBytes > 0) {
          bar.value = Math.min(received / imageBytes, 0.99);
          show(`${records} records · ${mb(Math.min(received, imageBytes))} of ${mb(imageBytes)} of images`);
        } else {
          show(`${records} records · ${mb(received)}`);
        }
      }
      bar.value = 1;
      const zip = URL.createObjectURL(new Blob(parts, { type: "application/zip" }));
      save(zip, filename(response));
      setTimeout(() => URL.revokeObjectURL(zip), 60000);
      show(`Exported ${records} record${records === 1 ? "" : "s"} (${mb(received)}).`);
    } catch (error) {
      show(abort.signal.aborted ? "Export cancelled." : error.message, !abort.signal.aborted);
    } finally {
      link.removeAttribute("aria-disabled");
      cancel.hidden = true;
    }
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-export]");
    if (!link || !window.fetch || !window.ReadableStream) return; // plain download instead
    event.preventDefault();
    if (link.getAttribute("aria-disabled") !== "true") run(link);
  });
}
