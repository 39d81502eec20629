// Small accessible charts in SVG: stacked bars over time, and a table with the same numbers for
// screen readers (and anyone who wants the figures). No library; colours come from CSS classes
// (the page's stylesheet), so the Content-Security-Policy needs no inline styles.
import { h } from "../../lib/dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const PAD_TOP = 4;
const PLOT_H = 160;

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export function compact(n) {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(n >= 10_000_000 ? 0 : 1)}M`;
  if (n >= 10_000) return `${Math.round(n / 1000)}k`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)}k`;
  return String(n);
}

/** A "nice" top for the y axis: 1, 2 or 5 times a power of ten, at least `max`. */
function niceTop(max) {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/**
 * A stacked bar chart over time.
 * @param {object} o
 * @param {string} o.title       what the chart shows ("Runs by status")
 * @param {string[]} o.buckets   the bucket starts (ISO), oldest first
 * @param {(iso: string) => string} o.label  a bucket's label ("14:00", "Dec 6")
 * @param {{key: string, label: string, cls: string, values: number[]}[]} o.series stacked, bottom first
 */
export function stackedBars({ title, buckets, label, series }) {
  const id = `chart-${Math.random().toString(36).slice(2, 9)}`;
  const totals = buckets.map((_, i) => series.reduce((sum, one) => sum + (one.values[i] || 0), 0));
  const top = niceTop(Math.max(0, ...totals));
  const slot = WIDTH / Math.max(1, buckets.length);
  const barW = Math.max(1, slot * 0.78);
  const y = (v) => PAD_TOP + PLOT_H - (v / top) * PLOT_H;
  const grand = totals.reduce((a, b) => a + b, 0);
  const summary =
    `${title}: ${compact(grand)} in total over ${buckets.length} periods` +
    (grand ? `, at most ${compact(Math.max(...totals))} in one` : "") +
    ". " +
    series.map((one) => `${one.label} ${compact(one.values.reduce((a, b) => a + b, 0))}`).join(", ");

  // The SVG stretches to its box (preserveAspectRatio none), so it holds no text: the axis
  // labels are HTML beside it and stay legible at any width.
  const svg = s("svg", {
    viewBox: `0 0 ${WIDTH} ${PAD_TOP + PLOT_H}`,
    class: "chart-svg",
    role: "img",
    "aria-labelledby": `${id}-t ${id}-d`,
    preserveAspectRatio: "none",
  });
  svg.append(s("title", { id: `${id}-t` }, title), s("desc", { id: `${id}-d` }, summary));
  for (const frac of [0, 0.5, 1]) {
    const yy = y(top * frac);
    svg.append(s("line", { x1: 0, x2: WIDTH, y1: yy, y2: yy, class: "chart-grid", "vector-effect": "non-scaling-stroke" }));
  }
  buckets.forEach((start, i) => {
    let base = 0;
    const x = i * slot + (slot - barW) / 2;
    for (const one of series) {
      const v = one.values[i] || 0;
      if (v > 0) {
        const rect = s("rect", {
          x: x.toFixed(2),
          width: barW.toFixed(2),
          y: y(base + v).toFixed(2),
          height: Math.max(0.5, y(base) - y(base + v)).toFixed(2),
          class: `chart-bar ${one.cls}`,
        });
        rect.append(s("title", {}, `${label(start)}: ${one.label} ${v}`));
        svg.append(rect);
      }
      base += v;
    }
  });
  const mid = top / 2;
  const yAxis = h("div.chart-y", { "aria-hidden": "true" },
    h("span", compact(top)), h("span", Number.isInteger(mid) ? compact(mid) : ""), h("span", "0"));
  const ticks = buckets.length <= 1 ? [0] : [0, Math.floor((buckets.length - 1) / 2), buckets.length - 1];
  const xAxis = h("div.chart-x", { "aria-hidden": "true" }, ticks.map((i) => h("span", label(buckets[i]))));

  const legend = h(
    "ul.chart-legend",
    { "aria-hidden": "true" },
    series.map((one) => h("li", h(`span.chart-swatch.${one.cls}`), one.label)),
  );
  const rows = buckets.map((start, i) => ({ start, i })).filter(({ i }) => totals[i] > 0);
  const table = h(
    "table.chart-table",
    h("caption", `${title} per period (periods with none left out)`),
    h("thead", h("tr", h("th", { scope: "col" }, "Period"), series.map((one) => h("th", { scope: "col" }, one.label)))),
    h(
      "tbody",
      rows.length
        ? rows.map(({ start, i }) =>
            h("tr", h("th", { scope: "row" }, label(start)), series.map((one) => h("td", String(one.values[i] || 0)))),
          )
        : h("tr", h("td", { colSpan: series.length + 1 }, "Nothing in this range.")),
    ),
  );
  return h(
    "figure.chart",
    h("figcaption.chart-title", title),
    h("div.chart-plot", yAxis, svg),
    xAxis,
    legend,
    h("details.chart-details", h("summary", `${title} as a table`), table),
  );
}
