// Approvals: every tool call held for a person, pending first by default, and the decisions
// made (who, when, with which arguments or reason), filtered by status and agent. Pending
// cards decide in place (members and up); the list follows approval.requested and
// approval.decided live, so a call held in any chat appears here without a reload.
import { h, fill, mono, fmtTime } from "../lib/dom.js";
import { field } from "../lib/forms.js";
import { EventStream, highWater } from "../lib/sse.js";
import { ensureStyles, loadInto, emptyState, pageHeader } from "./parts/kit.js";
import { select } from "./parts/forms.js";
import { approvalCard } from "./parts/approvals.js";

const STATUSES = [["pending", "Pending"], ["approved", "Approved"], ["rejected", "Rejected"], ["expired", "Expired"], ["", "All"]];
const PAGE = 50;
const REFRESH_MS = 500;

export function render(root, ctx) {
  ensureStyles();
  const { api } = ctx;
  const query = ctx.query;
  const status = select("status", STATUSES, STATUSES.some(([v]) => v === query.get("status")) ? query.get("status") : "pending");
  const agent = select("agent_id", [["", "All agents"]], "");
  const filters = h("form.filters", { "aria-label": "Approval filters" }, field("Status", status, { name: "status" }), field("Agent", agent, { name: "agent_id" }));
  const box = h("div.list-box", { id: "approvals-page-list" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  fill(root, pageHeader("Approvals"),
    h("p.muted", "Tool calls that wait for a person before they run; their runs wait without holding a slot."),
    filters, box, more);

  let names = {};
  let cursor = null;
  const params = () => ({ limit: PAGE, ...(status.value ? { status: status.value } : {}), ...(agent.value ? { agent_id: agent.value } : {}) });
  const entry = (approval) => h("div.pending-approval", { dataset: { approval: approval.id } },
    h("p.item-meta", "Run ", h("a", { href: `/runs/${encodeURIComponent(approval.run_id)}` }, mono(approval.run_id)),
      ` · ${names[approval.agent_id] || approval.agent_id} · asked ${fmtTime(approval.created_at)}`,
      approval.decided_at ? ` · decided ${fmtTime(approval.decided_at)}` : ""),
    approvalCard(ctx, approval));
  const show = (page) => {
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!page.items.length) return emptyState(status.value === "pending" ? "No tool call is waiting for approval." : "No approvals match these filters.");
    return h("div.approval-list", page.items.map(entry));
  };
  // The live stream starts after the seq taken before the first list, so nothing falls between.
  const opened = highWater(api).catch(() => null);
  const load = () => loadInto(box, async () => {
    await opened;
    const agents = await api.all(api.s("/agents"));
    names = Object.fromEntries(agents.map((a) => [a.id, a.name]));
    if (agent.options.length === 1) {
      for (const a of agents) agent.append(h("option", { value: a.id, selected: a.id === query.get("agent_id") }, a.name));
    }
    return api.get(api.s("/approvals"), params());
  }, show);

  const change = () => {
    ctx.router.setQuery({ status: status.value, agent_id: agent.value });
    load();
  };
  status.addEventListener("change", change);
  agent.addEventListener("change", change);
  filters.addEventListener("submit", (e) => { e.preventDefault(); change(); });
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await api.get(api.s("/approvals"), { ...params(), cursor });
      cursor = page.next_cursor;
      more.hidden = !cursor;
      box.querySelector(".approval-list")?.append(...page.items.map(entry));
    } catch (err) {
      ctx.toast.error(err.message);
    } finally {
      more.disabled = false;
    }
  });

  // Live: a burst of approval events reloads the first page once, without the skeleton;
  // a card a person is editing is left alone until its decision.
  let stopped = false;
  let stream = null;
  let timer = null;
  const quietly = async () => {
    timer = null;
    if (box.querySelector(".approval-card textarea:not([readonly]):not(:disabled)")) return;
    try {
      const page = await api.get(api.s("/approvals"), params());
      if (!stopped && !box.hasAttribute("aria-busy")) box.replaceChildren(...[show(page)].flat(Infinity).filter(Boolean));
    } catch {
      // the next event tries again
    }
  };
  opened.then((after) => {
    if (stopped || after === null) return;
    stream = new EventStream(api, {
      label: "approvals",
      after,
      query: { types: "approval.requested,approval.decided" },
      onEvent: () => {
        if (!timer) timer = setTimeout(quietly, REFRESH_MS);
      },
    });
  });
  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    stream?.stop();
  };
}
