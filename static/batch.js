// "Replay these…": the link takes the filters shown in the list's form at the moment it is
// followed (the bar is not redrawn when htmx refreshes the results). Loaded once.
if (!window.irisBatchLink) {
  window.irisBatchLink = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-batch-new]");
    const form = document.getElementById("filters");
    if (!link || !form) return;
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (typeof value === "string" && value.trim() && !["before", "after", "live"].includes(name)) {
        params.append(name, value);
      }
    }
    const query = params.toString();
    link.href = link.pathname + (query ? "?" + query : "");
  });
}
