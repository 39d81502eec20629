// Operator: every store with its last 24 hours (runs, tokens, errors from GET /v1/usage
// grouped by store), a form to create a store, and "Open" to act in another store (the
// operator key's store is this tab's choice, kept with the key in sessionStorage); and the
// worker processes on the database (GET /v1/workers) with their state, looked at again every
// WORKERS_POLL_MS while the page is open.
import { h, fill, mono, fmtTime } from "../lib/dom.js";
import { field, showErrors, clearErrors } from "../lib/forms.js";
import { saveStore } from "../lib/auth.js";
import { ensureStyles, loadInto, emptyState, pageHeader } from "./parts/kit.js";
import { textInput } from "./parts/forms.js";
import { compact } from "./parts/charts.js";

const PAGE = 100;
const WORKERS_POLL_MS = 5000;
const WORKER_STATES = { alive: "alive", expired: "silent past its expiry", fenced: "declared dead: its runs recovered" };

export function render(root, ctx) {
  ensureStyles();
  const storesSection = h("section.card.section", { "aria-labelledby": "stores-h" });
  const workersSection = h("section.card.section", { "aria-labelledby": "workers-h" });
  fill(root, pageHeader("Operator"), storesSection, workersSection);
  renderStores(storesSection, ctx);
  return renderWorkers(workersSection, ctx);
}

function renderWorkers(section, ctx) {
  const box = h("div.list-box", { id: "workers-list" });
  fill(section, h("h2", { id: "workers-h" }, "Workers"),
    h("p.muted", "The processes that run the queued runs, on every machine sharing this database. A worker silent past its expiry is declared dead and its runs are recovered by a live one."), box);
  const show = (items) => {
    if (!items.length) return emptyState("No worker is registered: runs wait until one starts (loopwright worker, or serve without --no-worker).");
    return h("div.table-wrap", h("table.data.stack",
      h("caption.sr-only", "Worker processes"),
      h("thead", h("tr", ["Executor", "State", "Host", "Pid", "Version", "Started", "Last heartbeat"].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", items.map((w) => h("tr", { dataset: { worker: w.executor_id, state: w.state } },
        h("th", { scope: "row", dataset: { label: "Executor" } }, mono(w.executor_id)),
        h("td", { dataset: { label: "State" } }, h(`span.status.status-${w.state === "alive" ? "running" : "failed"}`, WORKER_STATES[w.state] || w.state)),
        h("td", { dataset: { label: "Host" } }, w.host),
        h("td.num", { dataset: { label: "Pid" } }, String(w.pid)),
        h("td", { dataset: { label: "Version" } }, `${w.version} · ${w.application_version}`),
        h("td", { dataset: { label: "Started" } }, fmtTime(w.started_at)),
        h("td", { dataset: { label: "Last heartbeat" } }, fmtTime(w.heartbeat_at)))))));
  };
  loadInto(box, () => ctx.api.get("/v1/workers").then((page) => page.items), show);
  const timer = setInterval(async () => {
    try {
      const page = await ctx.api.get("/v1/workers");
      if (!box.hasAttribute("aria-busy")) box.replaceChildren(...[show(page.items)].flat(Infinity).filter(Boolean));
    } catch {
      // the next look tries again; the shown table stays
    }
  }, WORKERS_POLL_MS);
  return () => clearInterval(timer);
}

function renderStores(section, ctx) {
  const { api } = ctx;
  const box = h("div.list-box", { id: "stores-list" });
  const id = textInput("id", { placeholder: "acme", maxLength: 64, autocomplete: "off" });
  const name = textInput("name", { placeholder: "Acme Inc.", maxLength: 200 });
  const form = h("form.panel.inline-form", { "aria-label": "Create a store", novalidate: true },
    field("Store id", id, { name: "id", required: true, hint: "Lower-case letters, digits and - ; fixed once made." }),
    field("Name (optional)", name, { name: "name" }),
    h("div.filter-actions", h("button.primary", { type: "submit" }, "Create store")));
  fill(section, h("h2", { id: "stores-h" }, "Stores"), form, box);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const body = { id: id.value.trim(), ...(name.value.trim() ? { name: name.value.trim() } : {}) };
      const created = await api.post("/v1/stores", body);
      id.value = name.value = "";
      ctx.toast.ok(`Created store ${created.id}`);
      load();
    } catch (err) {
      showErrors(form, err);
      ctx.toast.error(err.message);
    }
  });

  const load = () => loadInto(box, () => Promise.all([allStores(api), lastDay(api)]), ([stores, usage]) => table(ctx, stores, usage));
  load();
}

/** Every store, a page at a time (an operator has few enough to list). */
async function allStores(api) {
  const stores = [];
  let cursor = null;
  do {
    const page = await api.get("/v1/stores", { limit: PAGE, ...(cursor ? { cursor } : {}) });
    stores.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return stores;
}

async function lastDay(api) {
  const since = new Date(Date.now() - 24 * 3600_000).toISOString();
  const report = await api.get("/v1/usage", { since, bucket: "hour", group_by: "store" });
  return new Map(report.series.map((s) => [s.group, s.totals]));
}

function table(ctx, stores, usage) {
  if (!stores.length) return emptyState("No stores yet — create one above.");
  return h("div.table-wrap", h("table.data.stack",
    h("caption.sr-only", "Every store with its last 24 hours"),
    h("thead", h("tr", ["Store", "Name", "Created", "Runs (24 h)", "Tokens (24 h)", "Errors (24 h)", ""].map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", stores.map((store) => {
      const t = usage.get(store.id);
      const current = store.id === ctx.store;
      return h("tr", { dataset: { store: store.id } },
        h("th", { scope: "row", dataset: { label: "Store" } }, mono(store.id), current ? h("span.badge", " open") : null),
        h("td", { dataset: { label: "Name" } }, store.name),
        h("td", { dataset: { label: "Created" } }, fmtTime(store.created_at)),
        h("td.num", { dataset: { label: "Runs (24 h)" } }, String(t?.runs_total ?? 0)),
        h("td.num", { dataset: { label: "Tokens (24 h)" } }, compact((t?.input_tokens ?? 0) + (t?.output_tokens ?? 0))),
        h("td.num", { dataset: { label: "Errors (24 h)" } }, String(t?.errors ?? 0)),
        h("td", current ? h("span.muted", "this tab's store") : h("button", { type: "button", onclick: () => openStore(store.id), "aria-label": `Open ${store.id}` }, "Open")));
    }))));
}

/** Act in another store: the shell, its streams and every page are built for one store. */
function openStore(storeId) {
  saveStore(storeId);
  location.assign("/chat");
}
