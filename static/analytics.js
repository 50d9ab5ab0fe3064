// Iris analytics: draws /logs/analytics/'s charts from its #analytics-data JSON, again each
// time htmx swaps #charts (a filter changed). Charts by uPlot 1.6.32 (static/vendor/uplot,
// MIT), chosen over Chart.js 4: 51 KB minified against 210 KB, made for time series (a time
// axis without a date adapter to add, thousands of points drawn fast, cursors synced across
// charts), and lines with gaps are all this page needs.
(() => {
  const COLORS = ["#5b5bd6", "#e5484d", "#12a594", "#f76b15", "#8e4ec6", "#0090ff", "#ad7f58",
    "#d6409f", "#8d8d8d"];
  const HEIGHT = 200;
  const dash = (f) => (v) => (v == null ? "–" : f(v));
  const FORMATS = {
    count: dash((v) => Math.round(v).toLocaleString()),
    percent: dash((v) => `${(v * 100).toFixed(v < 0.01 ? 2 : 1)} %`),
    ms: dash((v) => (v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`)),
    usd: dash((v) => `$${v >= 1 || v === 0 ? v.toFixed(2) : v.toPrecision(3)}`),
    bytes: dash((v) => {
      const units = ["B", "KB", "MB", "GB", "TB"];
      let i = 0;
      for (; v >= 1000 && i < units.length - 1; i++) v /= 1000;
      return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
    }),
  };
  // Counts and bytes tick at whole numbers: 1, 2, 5, 10, 20, 50…
  const WHOLE = [];
  for (let p = 1; p <= 1e12; p *= 10) WHOLE.push(p, 2 * p, 5 * p);
  let charts = [];

  function draw() {
    charts.forEach((chart) => chart.destroy());
    charts = [];
    const source = document.getElementById("analytics-data");
    if (!source || !window.uPlot) return;
    const data = JSON.parse(source.textContent);
    const when = (u, t) => (t == null ? "–" : new Date(t * 1000).toLocaleString());
    for (const figure of document.querySelectorAll(".chart[data-series]")) {
      const name = figure.dataset.series;
      const format = FORMATS[figure.dataset.unit];
      const plot = figure.querySelector(".plot");
      const series = [{ label: "Time", value: when }];
      const columns = [data.times];
      data.groups.forEach((group, i) => {
        series.push({
          label: group.name,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          value: (u, v) => format(v),
          points: { show: data.times.length <= 60 },
        });
        columns.push(group.series[name].map((v) => (v == null ? null : Number(v))));
      });
      charts.push(
        new uPlot(
          {
            width: plot.clientWidth || 440,
            height: HEIGHT,
            series,
            cursor: { sync: { key: "iris-analytics" } },
            scales: { y: { range: (u, min, max) => [0, max > 0 ? max * 1.08 : 1] } },
            axes: [
              {},
              {
                size: 72,
                values: (u, ticks) => ticks.map(format),
                ...(["count", "bytes"].includes(figure.dataset.unit) ? { incrs: WHOLE } : {}),
              },
            ],
          },
          columns,
          plot,
        ),
      );
    }
    window.irisCharts = charts; // for the browser test, and for a look from the console
  }

  let pending;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => {
      for (const chart of charts) chart.setSize({ width: chart.root.parentElement.clientWidth, height: HEIGHT });
    }, 150);
  });
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "charts") draw();
  });
})();
