// "Export dataset": streams the zip of the filters now in the list's form (the bar is not
// redrawn when htmx refreshes the results), with a progress bar. The server sends the record
// count and the image bytes first (X-Iris-Export-Records, X-Iris-Export-Image-Bytes) and the
// images before data.jsonl, so bytes received over image bytes is the progress. Loaded once.
if (!window.irisExport) {
  window.irisExport = true;
  const mb = (n) => (n / 1048576).toFixed(n < 10485760 ? 1 : 0) + " MB";

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
    bar.removeAttribute("value"); // indeterminate until the first bytes
    show("Starting…");
    try {
      const response = await fetch(exportUrl(link), { credentials: "same-origin", signal: abort.signal });
      if (!response.ok) {
        let message = `Export failed (${response.status}).`;
        try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
        throw new Error(message);
      }
      const records = Number(response.headers.get("X-Iris-Export-Records") || 0);
      const imageBytes = Number(response.headers.get("X-Iris-Export-Image-Bytes") || 0);
      box.dataset.records = String(records);
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
      const url = URL.createObjectURL(new Blob(parts, { type: "application/zip" }));
      const save = document.createElement("a");
      save.href = url;
      save.download = filename(response);
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
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
