// Iris logs UI: copy to clipboard. Everything else is htmx and plain links.
// data-copy="text", data-copy-target="#selector" (its text), data-copy-url="/url" (fetched text).
document.addEventListener("click", (event) => {
  const el = event.target.closest("[data-copy], [data-copy-target], [data-copy-url]");
  if (!el || !navigator.clipboard || el.classList.contains("copied")) return;
  event.preventDefault();
  let done;
  if (el.dataset.copyUrl) {
    // Fetched on click; a ClipboardItem holding a promise keeps the click's user activation.
    const text = fetch(el.dataset.copyUrl, { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error(r.statusText);
      return r.text();
    });
    done = window.ClipboardItem
      ? navigator.clipboard.write([
          new ClipboardItem({ "text/plain": text.then((t) => new Blob([t], { type: "text/plain" })) }),
        ])
      : text.then((t) => navigator.clipboard.writeText(t));
  } else {
    const target = el.dataset.copyTarget && document.querySelector(el.dataset.copyTarget);
    done = navigator.clipboard.writeText(target ? target.textContent : el.dataset.copy);
  }
  done.then(
    () => flash(el, "Copied"),
    () => flash(el, "Copy failed"),
  );
});

function flash(el, label) {
  const before = el.textContent;
  el.classList.add("copied");
  el.textContent = label;
  setTimeout(() => {
    el.classList.remove("copied");
    el.textContent = before;
  }, 1200);
}
