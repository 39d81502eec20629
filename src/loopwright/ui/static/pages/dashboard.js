// Dashboard: the store's runs, tokens and errors over time, per agent or model, from
// GET /v1/stores/{s}/usage. Charts are SVG with a table of the same numbers beside each.
// It stays live: the store's run events (queued, started, ended) refresh it quietly, at most
// once per REFRESH_MS, without the loading skeleton.
import { h, fill } from "../lib/dom.js";
import { field } from "../lib/forms.js";
import { EventStream, highWater } from "../lib/sse.js";
import { ensureStyles, loadInto, emptyState, pageHeader } from "./parts/kit.js";
import { select } from "./parts/forms.js";
import { stackedBars, compact } from "./parts/charts.js";

const RANGES = {
  "24h": { label: "Last 24 hours", bucket: "hour", hours: 24 },
  "7d": { label: "Last 7 days", bucket: "hour", hours: 24 * 7 },
  "30d": { label: "Last 30 days", bucket: "day", hours: 24 * 30 },
  "90d": { label: "Last 90 days", bucket: "day", hours: 24 * 90 },
};
const LIVE_TYPES = "run.queued,run.started,run.completed,run.failed,run.cancelled";
const REFRESH_MS = 1500;
const RUN_STATUSES = ["completed", "max_steps", "cancelled", "timed_out", "failed", "running", "waiting", "queued"];

function bucketLabel(bucket) {
  return (iso) => {
    const d = new Date(iso);
    return bucket === "hour"
      ? d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })
      : d.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" }); // days are UTC days
  };
}

/** The store's points per bucket: the series summed bucket by bucket. */
function perBucket(data) {
  const at = new Map(data.buckets.map((b) => [new Date(b).getTime(), { runs: {}, input_tokens: 0, output_tokens: 0, failed_runs: 0, failed_tool_calls: 0 }]));
  for (const series of data.series) {
    for (const p of series.points) {
      const slot = at.get(new Date(p.start).getTime());
      if (!slot) continue;
      for (const [status, n] of Object.entries(p.runs)) slot.runs[status] = (slot.runs[status] || 0) + n;
      slot.input_tokens += p.input_tokens;
      slot.output_tokens += p.output_tokens;
      slot.failed_runs += p.failed_runs;
      slot.failed_tool_calls += p.failed_tool_calls;
    }
  }
  return [...at.values()];
}

function tile(label, value, detail) {
  return h("div.tile", h("p.tile-label", label), h("p.tile-value", { dataset: { metric: label } }, value), detail ? h("p.tile-detail", detail) : null);
}

export function render(root, ctx) {
  ensureStyles();
  const { api } = ctx;
  const query = ctx.query;
  const range = select("range", Object.entries(RANGES).map(([k, r]) => [k, r.label]), RANGES[query.get("range")] ? query.get("range") : "24h");
  const groupBy = select("group_by", [["agent", "Per agent"], ["model", "Per model"]], query.get("group_by") === "model" ? "model" : "agent");
  const controls = h("form.filters", { "aria-label": "Dashboard range" }, field("Range", range, { name: "range" }), field("Breakdown", groupBy, { name: "group_by" }));
  const box = h("div.list-box", { id: "dashboard-body" });
  fill(root, pageHeader("Dashboard", h("button", { type: "button", onclick: () => load() }, "Refresh")), controls, box);

  const change = () => {
    ctx.router.setQuery({ range: range.value, group_by: groupBy.value });
    load();
  };
  range.addEventListener("change", change);
  groupBy.addEventListener("change", change);
  controls.addEventListener("submit", (e) => { e.preventDefault(); change(); });

  const fetchUsage = (chosen) => {
    const since = new Date(Date.now() - chosen.hours * 3600_000).toISOString();
    return api.get(api.s("/usage"), { since, bucket: chosen.bucket, group_by: groupBy.value });
  };
  // The stream starts after the seq taken before the first figures, so no run event falls
  // between the two.
  const opened = highWater(api);
  const load = () => {
    const chosen = RANGES[range.value];
    loadInto(box, () => opened.catch(() => null).then(() => fetchUsage(chosen)), (data) => show(data, chosen));
  };

  // Live: a run event schedules one quiet refresh; events during it schedule the next.
  let stopped = false;
  let stream = null;
  let timer = null;
  let quiet = null;
  const refreshQuietly = async () => {
    timer = null;
    const chosen = RANGES[range.value];
    quiet = (quiet || Promise.resolve()).then(async () => {
      try {
        const data = await fetchUsage(chosen);
        if (!stopped && chosen === RANGES[range.value] && !box.hasAttribute("aria-busy")) {
          box.replaceChildren(...[show(data, chosen)].flat(Infinity).filter(Boolean));
          box.dataset.refreshed = String(Number(box.dataset.refreshed || 0) + 1);
        }
      } catch {
        // the Refresh button and the next event try again; the shown figures stay
      }
    });
  };
  opened.then((after) => {
    if (stopped) return;
    stream = new EventStream(api, {
      label: "dashboard",
      after,
      query: { types: LIVE_TYPES },
      onEvent: () => {
        if (!timer) timer = setTimeout(refreshQuietly, REFRESH_MS);
      },
    });
  }).catch(() => {});

  function show(data, chosen) {
    const t = data.totals;
    const label = bucketLabel(data.bucket);
    const tiles = h("div.tiles",
      tile("Runs", compact(t.runs_total), `${t.runs.completed || 0} completed`),
      tile("Input tokens", compact(t.input_tokens)),
      tile("Output tokens", compact(t.output_tokens)),
      tile("Errors", compact(t.errors), `${t.failed_runs} failed runs · ${t.failed_tool_calls} failed tool calls`));
    if (!t.runs_total && !t.input_tokens && !t.errors) {
      return [tiles, emptyState(`Nothing happened in the ${chosen.label.toLowerCase()} — send an agent a message in Chat and the numbers appear here.`, h("a.button", { href: "/chat" }, "Open Chat"))];
    }
    const points = perBucket(data);
    const seen = RUN_STATUSES.filter((s) => points.some((p) => p.runs[s]));
    const charts = h("div.charts",
      stackedBars({
        title: "Runs by status", buckets: data.buckets, label,
        series: seen.map((s) => ({ key: s, label: s, cls: `fill-${s}`, values: points.map((p) => p.runs[s] || 0) })),
      }),
      stackedBars({
        title: "Tokens", buckets: data.buckets, label,
        series: [
          { key: "in", label: "input", cls: "fill-accent", values: points.map((p) => p.input_tokens) },
          { key: "out", label: "output", cls: "fill-accent-2", values: points.map((p) => p.output_tokens) },
        ],
      }),
      stackedBars({
        title: "Errors", buckets: data.buckets, label,
        series: [
          { key: "runs", label: "failed runs", cls: "fill-failed", values: points.map((p) => p.failed_runs) },
          { key: "tools", label: "failed tool calls", cls: "fill-failed-2", values: points.map((p) => p.failed_tool_calls) },
        ],
      }));
    const what = data.group_by === "model" ? "Model" : "Agent";
    const maxTokens = Math.max(1, ...data.series.map((s) => s.totals.input_tokens + s.totals.output_tokens));
    const breakdown = h("section.card.section", { "aria-labelledby": "breakdown-h" },
      h("h2", { id: "breakdown-h" }, `${what}s`),
      h("div.table-wrap", h("table.data.stack", { id: "usage-breakdown" },
        h("caption.sr-only", `Usage per ${what.toLowerCase()} in the ${chosen.label.toLowerCase()}`),
        h("thead", h("tr", [what, "Runs", "Completed", "Failed runs", "Failed tool calls", "Tokens (in / out)"].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", data.series.map((s) => {
          const share = (s.totals.input_tokens + s.totals.output_tokens) / maxTokens;
          const name = s.label ?? (data.group_by === "model" ? "no model (never reached one)" : "none");
          return h("tr",
            h("th", { scope: "row", dataset: { label: what } }, data.group_by === "agent" && s.group ? h("a", { href: `/agents/${encodeURIComponent(s.group)}` }, name) : name),
            h("td.num", { dataset: { label: "Runs" } }, String(s.totals.runs_total)),
            h("td.num", { dataset: { label: "Completed" } }, String(s.totals.runs.completed || 0)),
            h("td.num", { dataset: { label: "Failed runs" } }, String(s.totals.failed_runs)),
            h("td.num", { dataset: { label: "Failed tool calls" } }, String(s.totals.failed_tool_calls)),
            h("td.num", { dataset: { label: "Tokens" } },
              `${compact(s.totals.input_tokens)} / ${compact(s.totals.output_tokens)}`,
              h("meter.share", { min: 0, max: 1, value: share, "aria-label": `share of the most tokens used by one ${what.toLowerCase()}` })));
        })))));
    return [tiles, charts, breakdown];
  }

  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    stream?.stop();
  };
}
