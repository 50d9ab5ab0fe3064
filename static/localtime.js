// Times in the browser's local time, with its zone; the UTC time on hover. The server renders
// <time datetime="ISO 8601" data-local="time|date|datetime|zone"> in UTC, saying "UTC" plainly,
// so the page reads right without this script too. Runs on load and on every htmx swap.
(() => {
  const pad = (n) => String(n).padStart(2, "0");
  const zone = (d) =>
    new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
      .formatToParts(d)
      .find((p) => p.type === "timeZoneName")?.value || "";
  const shown = {
    time: (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`,
    date: (d) => d.toLocaleDateString(undefined, { month: "short", day: "numeric" }),
    datetime: (d) =>
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${shown.time(d)} ${zone(d)}`,
    zone,
  };
  const utc = (d) => `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;

  function localise(root) {
    for (const el of root.querySelectorAll("time[datetime][data-local]:not([data-localised])")) {
      const d = new Date(el.getAttribute("datetime"));
      const show = shown[el.dataset.local];
      if (Number.isNaN(d.getTime()) || !show) continue;
      el.textContent = show(d);
      el.title = utc(d);
      el.dataset.localised = "";
    }
  }
  document.addEventListener("DOMContentLoaded", () => localise(document));
  document.addEventListener("htmx:load", (event) => localise(event.target));
})();
