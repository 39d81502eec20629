// One agent: its settings, and the actions an admin may take (edit, disable, delete).
import { fmtTime, guard, h, mono, statusBadge } from "../lib/dom.js";
import { load } from "../lib/states.js";

export function render(root, ctx) {
  const { api, params } = ctx;
  const path = api.s(`/agents/${encodeURIComponent(params.id)}`);
  const body = h("div");
  root.append(body);
  const refresh = () => load(body, () => api.get(path), (agent) => show(agent), { rows: 6 });

  function show(agent) {
    const admin = ctx.can("admin");
    const why = "Needs the admin role";
    const toggle = guard(
      h("button", { type: "button", onclick: () => setStatus(agent.status === "active" ? "disabled" : "active") }, agent.status === "active" ? "Disable" : "Enable"),
      admin,
      why,
    );
    const del = guard(h("button.danger", { type: "button", onclick: () => remove(agent) }, "Delete"), admin, why);
    const edit = guard(h("a.button", { href: `/agents/${encodeURIComponent(agent.id)}/edit` }, "Edit"), admin, why);
    if (!admin) edit.firstChild.removeAttribute("href");
    body.append(
      h(
        "header.page-head",
        h("div", h("h1", agent.name), h("p.muted", mono(agent.id))),
        h(
          "div.actions",
          h("a.button.primary", { href: `/chat?agent=${encodeURIComponent(agent.id)}` }, "Chat"),
          edit,
          toggle,
          del,
        ),
      ),
      h(
        "section.card",
        h(
          "dl.props",
          prop("Status", statusBadge(agent.status)),
          prop("Description", agent.description || "—"),
          prop("Goal", agent.goal || "—"),
          prop("Model", mono(agent.model)),
          prop("Fallback models", agent.fallback_models.length ? agent.fallback_models.map((m) => mono(m)) : "—"),
          prop("Temperature", agent.temperature ?? "model default"),
          prop("Max steps", agent.max_steps),
          prop("Timeout", `${agent.timeout_s} s`),
          prop("Mode", agent.mode),
          agent.mode === "team" ? prop("Executor model", agent.executor_model ? mono(agent.executor_model) : "the planner's") : null,
          agent.mode === "team" ? prop("Executor system prompt", agent.executor_system_prompt ? h("pre", agent.executor_system_prompt) : "built-in") : null,
          prop("Tools", agent.tools.length ? h("ul.plain", agent.tools.map((t) => h("li", mono(t), toolApproval(agent, t)))) : "none"),
          prop("Approval", APPROVAL_LABELS[agent.approval] || agent.approval),
          prop("Memory", agent.memory ? `on, ${agent.memory_budget_tokens} tokens` : "off"),
          prop("System prompt", agent.system_prompt ? h("pre", agent.system_prompt) : "—"),
          prop("Created", fmtTime(agent.created_at)),
          prop("Updated", fmtTime(agent.updated_at)),
        ),
      ),
    );
  }

  async function setStatus(status) {
    try {
      const agent = await api.patch(path, { status });
      ctx.toast.ok(`${agent.name} is ${agent.status}`);
      refresh();
    } catch (err) {
      ctx.toast.error(err.message);
    }
  }

  async function remove(agent) {
    const ok = await ctx.confirm("Delete agent", `Delete ${agent.name}? Its sessions stop working. This cannot be undone.`, { confirmLabel: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.del(path);
      ctx.toast.ok(`Deleted ${agent.name}`);
      ctx.router.go("/agents");
    } catch (err) {
      ctx.toast.error(err.message);
    }
  }

  refresh();
}

function prop(label, value) {
  return [h("dt", label), h("dd", value)];
}

const APPROVAL_LABELS = {
  never: "never: tools run without asking",
  read_write: "read-write: calls of tools that write wait for a person",
  always: "always: every tool call waits for a person",
};

/** A badge when a tool's calls are held (or never held) whatever the agent's policy says. */
function toolApproval(agent, tool) {
  const ask = agent.tool_approvals?.[tool];
  if (!ask) return null;
  return h("span.badge", { title: "over the agent's approval policy" }, ask === "always" ? "always asks" : "never asks");
}
