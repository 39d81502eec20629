// Runs: the store's runs newest first with filters and paging; a run's detail with its model
// steps, its tool-call audit and its child runs.
import { h, fill, mono, fmtTime, fmtDuration } from "../lib/dom.js";
import { field } from "../lib/forms.js";
import { errorState, skeleton } from "../lib/states.js";
import { ensureStyles, gate, loadInto, emptyState, jsonDetails, badge, statusBadge, pageHeader } from "./parts/kit.js";
import { select, textInput } from "./parts/forms.js";

const STATUSES = ["queued", "running", "waiting", "completed", "failed", "cancelled", "timed_out", "max_steps"];
const ACTIVE = new Set(["queued", "running", "waiting"]);

export function duration(run) {
  if (!run.started_at) return "";
  const end = run.finished_at ? new Date(run.finished_at) : new Date();
  return fmtDuration(end - new Date(run.started_at)) + (run.finished_at ? "" : " so far");
}

function tokens(usage) {
  return `${usage.input_tokens} in / ${usage.output_tokens} out`;
}

function runLink(id) {
  return h("a.mono", { href: `/runs/${encodeURIComponent(id)}` }, id);
}

async function agentNames(api) {
  try {
    const items = await api.all(api.s("/agents"), {}, 1000);
    return new Map(items.map((a) => [a.id, a.name]));
  } catch {
    return new Map();
  }
}

export function render(root, ctx) {
  ensureStyles();
  if (ctx.params?.id) return renderDetail(root, ctx, ctx.params.id);
  return renderList(root, ctx);
}

function renderList(root, ctx) {
  const { api } = ctx;
  const query = ctx.query;
  const status = select("status", [["", "Any status"], ...STATUSES.map((s) => [s, s])], query.get("status") || "");
  const session = textInput("session_id", { placeholder: "ses_…", value: query.get("session_id") || "" });
  const filters = h(
    "form.filters", { role: "search", "aria-label": "Filter runs" },
    field("Status", status, { name: "status" }),
    field("Session", session, { name: "session_id" }),
    h("div.filter-actions", h("button", { type: "submit" }, "Apply"),
      h("button", { type: "button", onclick: () => { status.value = ""; session.value = ""; apply(); } }, "Clear")),
  );
  const box = h("div.list-box", { id: "runs-list" });
  fill(root, pageHeader("Runs"), filters, box);
  let names = new Map();

  const apply = () => {
    ctx.router.setQuery({ status: status.value, session_id: session.value.trim() });
    load();
  };
  filters.addEventListener("submit", (e) => { e.preventDefault(); apply(); });

  function row(run) {
    return h(
      "tr", { dataset: { run: run.id } },
      h("td", { dataset: { label: "Run" } }, runLink(run.id), run.parent_run_id ? h("span.muted", " (child)") : null),
      h("td", { dataset: { label: "Agent" } }, names.get(run.agent_id) || mono(run.agent_id)),
      h("td", { dataset: { label: "Status" } }, statusBadge(run.status)),
      h("td", { dataset: { label: "Stop reason" } }, run.stop_reason || "—"),
      h("td", { dataset: { label: "Trigger" } }, run.trigger),
      h("td.num", { dataset: { label: "Steps" } }, String(run.steps)),
      h("td.num", { dataset: { label: "Tokens" } }, tokens(run.usage)),
      h("td.num", { dataset: { label: "Duration" } }, duration(run) || "—"),
      h("td", { dataset: { label: "Created" } }, h("time", { dateTime: run.created_at }, fmtTime(run.created_at))),
    );
  }

  let tbody = null; // the table body while a list is shown
  const live = new Set(); // runs being refreshed from events, one request each at a time
  const again = new Set(); // runs that changed while their refresh was in flight
  const refreshRow = async (runId) => {
    live.add(runId);
    try {
      const run = await api.get(api.s(`/runs/${encodeURIComponent(runId)}`));
      if (!names.has(run.agent_id)) names = await agentNames(api);
      const current = tbody?.querySelector(`tr[data-run="${CSS.escape(run.id)}"]`);
      if (status.value && run.status !== status.value) current?.remove(); // left the filter
      else if (current) current.replaceWith(row(run));
      else tbody?.prepend(row(run));
    } catch {
      // a run deleted with its session meanwhile: nothing to show
    } finally {
      live.delete(runId);
    }
    if (again.delete(runId) && tbody) await refreshRow(runId); // read what changed meanwhile
  };
  const off = ctx.events.subscribe(async (event) => {
    if (!event.type.startsWith("run.") || !event.run_id || !tbody) return;
    if (live.has(event.run_id)) {
      again.add(event.run_id);
      return;
    }
    const shown = tbody.querySelector(`tr[data-run="${CSS.escape(event.run_id)}"]`);
    const filtered = status.value || session.value.trim();
    if (!shown && (filtered || event.type !== "run.queued")) return;
    await refreshRow(event.run_id);
  });

  const load = () => {
    tbody = null;
    const q = { status: status.value || undefined, session_id: session.value.trim() || undefined, limit: 50 };
    loadInto(box, async () => {
      const [page, found] = await Promise.all([api.get(api.s("/runs"), q), agentNames(api)]);
      names = found;
      return page;
    }, (page) => {
      if (!page.items.length) {
        const filtered = q.status || q.session_id;
        return emptyState(filtered ? "No runs match these filters — clear them to see every run." : "No runs yet — send an agent a message in Chat to start one.",
          filtered ? null : h("a.button", { href: "/chat" }, "Open Chat"));
      }
      const body = h("tbody", page.items.map(row));
      tbody = body;
      const more = h("div.more");
      const addMore = (cursor) => {
        fill(more);
        if (!cursor) return;
        const button = h("button", { type: "button" }, "Load more");
        button.addEventListener("click", async () => {
          button.disabled = true;
          try {
            const next = await api.get(api.s("/runs"), { ...q, cursor });
            body.append(...next.items.map(row));
            addMore(next.next_cursor);
            more.querySelector("button")?.focus();
          } catch (e) {
            button.disabled = false;
            ctx.toast.error(`Could not load more runs: ${e.message}`);
          }
        });
        more.append(button);
      };
      addMore(page.next_cursor);
      return [
        h("div.table-wrap", h("table.data.stack", h("caption.sr-only", "Runs, newest first"),
          h("thead", h("tr", ["Run", "Agent", "Status", "Stop reason", "Trigger", "Steps", "Tokens", "Duration", "Created"].map((t) => h("th", { scope: "col" }, t)))),
          body)),
        more,
      ];
    });
  };
  load();
  return off;
}

function renderDetail(root, ctx, id) {
  const { api } = ctx;
  const head = h("div");
  const stepsBox = h("div.list-box", { id: "run-steps" });
  const callsBox = h("div.list-box", { id: "run-tool-calls" });
  const childrenBox = h("div.list-box", { id: "run-children" });
  const planBox = h("div.list-box", { id: "run-plan" });
  const planSection = h("section.card.section", { "aria-labelledby": "plan-h", hidden: true }, h("h2", { id: "plan-h" }, "Plan"), planBox);
  fill(
    root,
    h("nav.crumbs", { "aria-label": "Breadcrumb" }, h("a", { href: "/runs" }, "Runs"), " / ", mono(id)),
    head,
    planSection,
    h("section.card.section", { "aria-labelledby": "steps-h" }, h("h2", { id: "steps-h" }, "Model steps"), stepsBox),
    h("section.card.section", { "aria-labelledby": "calls-h" }, h("h2", { id: "calls-h" }, "Tool calls"), callsBox),
    h("section.card.section", { "aria-labelledby": "children-h" }, h("h2", { id: "children-h" }, "Child runs"), childrenBox),
  );

  const loadHead = () => {
    fill(head, skeleton(2));
    Promise.all([api.get(api.s(`/runs/${encodeURIComponent(id)}`)), agentNames(api)]).then(([run, names]) => {
      const cancel = gate(ctx, h("button.danger", { type: "button" }, "Cancel run"), "member");
      cancel.addEventListener("click", async () => {
        cancel.disabled = true;
        try {
          const done = await api.post(api.s(`/runs/${encodeURIComponent(id)}/cancel`));
          ctx.toast.ok(`Run ${done.status}`);
          refresh();
        } catch (e) {
          cancel.disabled = false;
          ctx.toast.error(`Could not cancel: ${e.message}`);
        }
      });
      const facts = [
        ["Agent", names.get(run.agent_id) ? h("a", { href: `/agents/${encodeURIComponent(run.agent_id)}` }, names.get(run.agent_id)) : mono(run.agent_id)],
        ["Session", h("a.mono", { href: `/chat/${encodeURIComponent(run.session_id)}` }, run.session_id)],
        ["Stop reason", run.stop_reason || "—"],
        ["Trigger", run.trigger],
        ["Priority", run.priority],
        ["Steps", String(run.steps)],
        ["Tokens", tokens(run.usage)],
        ["Duration", duration(run) || "—"],
        ["Created", fmtTime(run.created_at)],
        ["Started", fmtTime(run.started_at) || "—"],
        ["Finished", fmtTime(run.finished_at) || "—"],
      ];
      if (run.parent_run_id) facts.splice(2, 0, ["Parent run", runLink(run.parent_run_id)]);
      if (run.plan_step) facts.splice(3, 0, ["Plan step", [mono(run.plan_step.step_id), ` · attempt ${run.plan_step.attempt} · plan `, mono(run.plan_step.plan_id)]]);
      if (run.read_only) facts.push(["Tools", "read-only"]);
      fill(head,
        h("header.page-head",
          h("h1", "Run ", h("span.mono", id)),
          h("div.page-actions", statusBadge(run.status),
            h("button", { type: "button", onclick: () => refresh() }, "Refresh"),
            ACTIVE.has(run.status) ? cancel : null)),
        run.error ? h("p.error-text", { role: "note" }, run.error) : null,
        h("dl.props.facts", facts.map(([k, v]) => [h("dt", k), h("dd", v)])));
    }).catch((e) => fill(head, h("h1", "Run ", mono(id)), errorState(e, loadHead)));
  };

  const loadSteps = () => loadInto(stepsBox, () => api.get(api.s(`/runs/${encodeURIComponent(id)}/steps`)), ({ items }) => {
    if (!items.length) return emptyState("No model steps yet — the run has not reached its model (queued, or failed before).");
    return h("ol.steps", items.map((step) => h(
      "li.step", { dataset: { step: String(step.index) } },
      h("div.item-title", h("strong", `Step ${step.index + 1}`), " ", mono(`${step.provider || "?"}:${step.model || "?"}`)),
      h("p.item-meta", `${step.input_tokens} in / ${step.output_tokens} out tokens · ${fmtDuration(step.latency_ms)}`),
      step.tool_calls.length
        ? h("ul.chips", { "aria-label": "Tool calls asked for" }, step.tool_calls.map((c) => h("li", mono(c.name))))
        : h("p.muted", "Answered without tools."),
      step.tool_calls.length ? jsonDetails("Tool calls (arguments)", step.tool_calls) : null,
    )));
  });

  const loadCalls = () => loadInto(callsBox, () => api.all(api.s("/tool-calls"), { run_id: id }, 1000), (items) => {
    if (!items.length) return emptyState("No tool calls in this run.");
    return h("ul.item-list", { "aria-label": "Tool calls" }, items.slice().reverse().map((call) => h(
      "li.item", { dataset: { call: call.call_id } },
      h("div.item-main",
        h("div.item-title", mono(call.tool_name), badge(call.outcome, call.outcome === "ok" ? "ok" : "error"),
          h("span.muted", ` ${fmtDuration(call.duration_ms)} · ${fmtTime(call.created_at)}`)),
        jsonDetails("Arguments", call.arguments),
        jsonDetails(call.outcome === "ok" ? "Result" : "Error", call.result)),
    )));
  });

  const loadChildren = () => loadInto(childrenBox, () => api.all(api.s("/runs"), { parent_run_id: id }, 200), (items) => {
    if (!items.length) return emptyState("No child runs (an agent starts one with the ask_agent tool).");
    return h("ul.item-list", { "aria-label": "Child runs" }, items.map((run) => h(
      "li.item",
      h("div.item-main", h("div.item-title", runLink(run.id), statusBadge(run.status),
        h("span.muted", ` ${run.steps} steps · ${tokens(run.usage)} · ${duration(run) || "—"}`))),
    )));
  });

  const loadPlan = async () => {
    const page = await api.get(api.s("/plans"), { run_id: id }).catch(() => ({ items: [] }));
    if (!page.items.length) return;
    planSection.hidden = false;
    loadInto(planBox, () => api.get(api.s(`/plans/${encodeURIComponent(page.items[0].id)}`)), planTable);
  };

  const refresh = () => { loadHead(); loadSteps(); loadCalls(); loadChildren(); loadPlan(); };
  refresh();
  let timer = null;
  const children = new Set();
  const off = ctx.events.subscribe((event) => {
    if (!event.type.startsWith("run.")) return;
    if (event.payload?.parent_run_id === id && event.run_id) children.add(event.run_id);
    if (event.run_id !== id && !children.has(event.run_id)) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, 250); // one refresh for a burst of events
  });
  return () => {
    clearTimeout(timer);
    off();
  };
}

/** A team planner's plan: its steps with dependencies, status, attempts, executor runs and
 * token totals per step, then the planner's, the executors' and the plan's totals. */
function planTable(plan) {
  const u = plan.usage;
  return [
    h("p", statusBadge(plan.status), " ", plan.goal ? h("strong", plan.goal) : null, plan.reason ? h("span.muted", ` — ${plan.reason}`) : null),
    h("div.table-wrap", h("table.data.stack", h("caption.sr-only", "Plan steps"),
      h("thead", h("tr", ["Step", "Depends on", "Status", "Attempts", "Executor runs", "Tokens"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", plan.steps.map((s) => h(
        "tr.plan-step", { dataset: { step: s.step_id, status: s.status } },
        h("td", { dataset: { label: "Step" } }, h("strong", s.title), " ", mono(s.step_id), s.error ? h("p.error-text", s.error) : null),
        h("td", { dataset: { label: "Depends on" } }, s.depends_on.length ? s.depends_on.join(", ") : "—"),
        h("td", { dataset: { label: "Status" } }, statusBadge(s.status)),
        h("td.num", { dataset: { label: "Attempts" } }, String(s.attempts)),
        h("td", { dataset: { label: "Executor runs" } }, s.executors.length ? s.executors.map((x) => h("div", runLink(x.run_id), " ", statusBadge(x.status))) : "—"),
        h("td.num", { dataset: { label: "Tokens" } }, s.usage ? tokens(s.usage) : "—"),
      ))))),
    u ? h("dl.props.facts", [["Planner", u.planner], ["Executors", u.executors], ["Total", u.total]].map(([k, v]) => [h("dt", k), h("dd", v ? tokens(v) : "—")])) : null,
  ];
}
