// The dashboard's charts (uPlot, vendored beside this file) from the columns each page embeds as JSON,
// and the live panels' refresh. The tables beside the charts hold the same figures as text.
"use strict";

function duration(seconds) {
  if (seconds == null) return "";
  const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  if (h) return `${h.toLocaleString("en")} h${m ? " " + m + " min" : ""}`;
  if (m) return `${m} min`;
  return `${s % 60} s`;
}

// An axis of durations in one unit, chosen by its largest tick: "30 s", "1.5 min", "2 h".
function durationTicks(ticks) {
  const top = Math.max(...ticks, 0);
  const [unit, size] = top >= 7200 ? ["h", 3600] : top >= 120 ? ["min", 60] : ["s", 1];
  return ticks.map((t) => `${(t / size).toLocaleString("en", { maximumFractionDigits: 1 })} ${unit}`);
}

const KINDS = {
  watch_time: { label: "Watch time", stroke: "#1a5fb4", fill: "rgba(26,95,180,0.12)", value: duration, ticks: durationTicks, time: true },
  viewers: { label: "Viewers", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7], stroke: "#9c3d00", fill: "rgba(156,61,0,0.10)", value: (v) => v == null ? "" : v.toLocaleString("en"), time: true },
  retention: { label: "Retention", stroke: "#26734d", fill: "rgba(38,115,77,0.12)", value: (v) => v == null ? "" : (v * 100).toFixed(0) + " %", time: false },
};
for (const kind of Object.values(KINDS)) kind.ticks = kind.ticks || ((ticks) => ticks.map(kind.value));

function draw(element) {
  const kind = KINDS[element.dataset.kind];
  const columns = JSON.parse(document.getElementById(element.dataset.chart).textContent);
  const values = columns[element.dataset.kind] || [];
  const zone = element.dataset.tz;
  const options = {
    width: Math.max(element.clientWidth, 240), height: 220,
    scales: { x: { time: kind.time }, y: { range: (u, min, max) => [0, Math.max(max, 1)] } },
    axes: [
      { stroke: "#333", values: kind.time ? undefined : (u, ticks) => durationTicks(ticks) },
      { stroke: "#333", size: 70, values: (u, ticks) => kind.ticks(ticks), incrs: kind.incrs },
    ],
    series: [{}, { label: kind.label, stroke: kind.stroke, fill: kind.fill, width: 2, value: (u, v) => kind.value(v) }],
    legend: { show: false },  // the table beside the chart has every figure
  };
  if (kind.time && zone) options.tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), zone);
  element.replaceChildren();
  return new uPlot(options, [columns.x, values], element);
}

function drawAll() {
  document.querySelectorAll(".chart[data-chart]").forEach((element) => {
    try {
      draw(element);
    } catch (error) {
      element.textContent = "The chart could not be drawn; the table below has its figures.";
    }
  });
}

// A panel with data-live-url refreshes its [data-field] elements from that JSON answer every 10 s.
function refresh(panel) {
  fetch(panel.dataset.liveUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => response.ok ? response.json() : Promise.reject(new Error(`the API answered ${response.status}`)))
    .then((answer) => {
      panel.querySelectorAll("[data-field]").forEach((field) => {
        const value = answer[field.dataset.field];
        if ("clock" in field.dataset) {  // a moment, on the page's time zone's clock
          field.textContent = new Date(value).toLocaleTimeString("en-GB", { timeZone: panel.dataset.tz });
        } else {
          field.textContent = typeof value === "number" ? value.toLocaleString("en") : (value ?? "");
        }
      });
      const list = panel.querySelector("[data-movies]");
      if (list && answer.movies) {
        list.replaceChildren(...answer.movies.map((movie) => {
          const item = document.createElement("li");
          const link = document.createElement("a");
          link.href = `${panel.dataset.moviePrefix}${movie.id}/`;
          link.textContent = movie.title;
          item.append(link, ` ${movie.viewers.toLocaleString("en")} watching`);
          return item;
        }));
      }
      panel.querySelector("[data-status]").textContent = "";
    })
    .catch((error) => { panel.querySelector("[data-status]").textContent = `Not refreshed: ${error.message}.`; });
}

document.addEventListener("DOMContentLoaded", () => {
  drawAll();
  let pending;
  window.addEventListener("resize", () => { clearTimeout(pending); pending = setTimeout(drawAll, 200); });
  document.querySelectorAll("[data-live-url]").forEach((panel) => {
    setInterval(() => refresh(panel), 10000);
  });
});
