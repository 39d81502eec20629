// Memories: the store's long-term memories, filtered by agent and type and searched (words,
// stemmed); cards with importance, access count and source; add, edit and delete; and the
// review queue of suggestions (approve as is, edit then approve, reject), which says when a
// suggestion repeats or contradicts a memory (approving it then replaces that memory).
import { h, fmtTime } from "../lib/dom.js";
import { field, showErrors, clearErrors } from "../lib/forms.js";
import { ensureStyles, gate, loadInto, emptyState, badge, pageHeader } from "./parts/kit.js";
import { textInput, select } from "./parts/forms.js";
import { MEMORY_TYPES as TYPES, memoryFields } from "./parts/memory-form.js";

export function render(root, ctx) {
  ensureStyles();
  const { api } = ctx;
  let agents = [];
  const agentName = (id) => agents.find((a) => a.id === id)?.name || id;
  const agentFilter = select("agent", [["", "All agents"]], "");
  const typeFilter = select("type", [["", "All types"], ...TYPES.map((t) => [t, t])], ctx.query.get("type") || "");
  const search = textInput("q", { type: "search", placeholder: "Search memories", value: ctx.query.get("q") || "" });
  const listBox = h("div.list-box", { id: "memory-list" });
  const queueBox = h("div.list-box", { id: "suggestion-list" });
  const formSlot = h("div.panel-slot");
  const addButton = gate(ctx, h("button.primary", { type: "button", onclick: () => openForm() }, "Add memory"), "member");

  root.append(
    pageHeader("Memories", addButton),
    h("section.card.section", { "aria-labelledby": "queue-h" },
      h("div.section-head", h("h2", { id: "queue-h" }, "Suggestions to review")),
      queueBox),
    h("section.card.section", { "aria-labelledby": "memories-h" },
      h("div.section-head", h("h2", { id: "memories-h" }, "Memories")),
      h("form.filters", { role: "search", onsubmit: (e) => { e.preventDefault(); reload(); } },
        field("Agent", agentFilter, { name: "agent" }),
        field("Type", typeFilter, { name: "type" }),
        field("Search", search, { name: "q" })),
      formSlot,
      listBox),
  );
  agentFilter.addEventListener("change", () => reload());
  typeFilter.addEventListener("change", () => reload());
  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => reload(), 250); });

  const params = () => {
    const p = new URLSearchParams();
    if (agentFilter.value) p.set("agent_id", agentFilter.value);
    if (typeFilter.value) p.set("type", typeFilter.value);
    if (search.value.trim()) p.set("q", search.value.trim());
    p.set("limit", "100");
    return p;
  };
  const reloadList = loadInto(listBox, () => api.get(api.s(`/memories?${params()}`)), ({ items }) => {
    if (!items.length) {
      return emptyState(search.value || typeFilter.value || agentFilter.value
        ? "No memory matches these filters."
        : "No memories yet — add one, or approve a suggestion.");
    }
    return h("ul.item-list.memory-cards", { "aria-label": "Memories" }, items.map(memoryCard));
  });
  const reloadQueue = loadInto(queueBox, () => api.get(api.s("/memory-suggestions?status=pending&limit=100")), ({ items }) => {
    if (!items.length) return emptyState("Nothing to review. Suggestions appear after a session is reflected on.");
    return h("ul.item-list", { "aria-label": "Suggestions" }, items.map(suggestionCard));
  });
  function reload() {
    ctx.router.setQuery?.({ q: search.value.trim() || null, type: typeFilter.value || null });
    reloadList();
  }

  api.all(api.s("/agents")).then((found) => {
    agents = found;
    agentFilter.append(...agents.map((a) => h("option", { value: a.id }, a.name)));
  }).catch(() => {});

  function memoryCard(m) {
    const importance = Math.round(m.importance * 100);
    return h("li.item", { dataset: { memory: m.id } },
      h("div.item-main",
        h("p.item-title", m.content),
        h("p.item-meta",
          badge(m.type), " ",
          m.shared ? badge("shared", "ro") : null, " ",
          h("span", `${agentName(m.agent_id)} · importance `),
          h("meter", { min: 0, max: 1, value: m.importance, "aria-label": `Importance ${importance}%` }),
          h("span", ` ${importance}% · used ${m.access_count} ${m.access_count === 1 ? "time" : "times"}`),
          m.last_accessed_at ? h("span", ` · last ${fmtTime(m.last_accessed_at)}`) : null,
          h("span.muted", ` · from ${m.source.kind}`))),
      h("div.item-actions",
        gate(ctx, h("button.small", { type: "button", onclick: () => openForm(m), "aria-label": `Edit memory: ${m.content}` }, "Edit"), "member"),
        gate(ctx, h("button.small.danger", { type: "button", onclick: () => remove(m), "aria-label": `Delete memory: ${m.content}` }, "Delete"), "member")));
  }

  function suggestionCard(s) {
    const relation = s.relation === "new" ? null
      : h("p.warn", s.relation === "duplicate" ? "Repeats an existing memory" : "Contradicts an existing memory",
        s.existing_memory_id ? ` (${s.existing_memory_id}); approving replaces it, the old one is kept as superseded.` : "");
    return h("li.item", { dataset: { suggestion: s.id } },
      h("div.item-main",
        h("p.item-title", s.content),
        h("p.item-meta", badge(s.type), ` ${agentName(s.agent_id)} · importance ${Math.round(s.importance * 100)}%`),
        s.reason ? h("p.item-desc", s.reason) : null,
        relation),
      h("div.item-actions",
        gate(ctx, h("button.small.primary", { type: "button", onclick: () => decide(s, "approve", {}), "aria-label": `Approve: ${s.content}` }, "Approve"), "member"),
        gate(ctx, h("button.small", { type: "button", onclick: () => editApprove(s), "aria-label": `Edit and approve: ${s.content}` }, "Edit"), "member"),
        gate(ctx, h("button.small.danger", { type: "button", onclick: () => decide(s, "reject"), "aria-label": `Reject: ${s.content}` }, "Reject"), "member")));
  }

  async function decide(s, action, body) {
    try {
      await api.post(api.s(`/memory-suggestions/${encodeURIComponent(s.id)}/${action}`), body);
      ctx.toast.ok(action === "approve" ? "Saved as a memory" : "Suggestion rejected");
      reloadQueue();
      reloadList();
      return true;
    } catch (e) {
      ctx.toast.error(`Could not ${action}: ${e.message}`);
      return e;
    }
  }

  function editApprove(s) {
    ctx.modal("Edit and approve", (close) => {
      const fields = memoryFields(s);
      const form = h("form.form", { novalidate: true }, ...fields.nodes,
        h("div.actions", h("button", { type: "button", onclick: () => close() }, "Cancel"), h("button.primary", { type: "submit" }, "Approve")));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        clearErrors(form);
        const out = await decide(s, "approve", fields.value());
        if (out === true) close();
        else showErrors(form, out);
      });
      return form;
    });
  }

  function openForm(memory) {
    const agent = select("agent_id", agents.map((a) => [a.id, a.name]), memory?.agent_id || agentFilter.value || agents[0]?.id);
    const fields = memoryFields(memory);
    const submit = h("button.primary", { type: "submit" }, memory ? "Save" : "Add memory");
    const form = h("form.form.panel", { "aria-labelledby": "memory-form-h", novalidate: true },
      h("h3", { id: "memory-form-h" }, memory ? "Edit memory" : "New memory"),
      memory ? null : field("Agent", agent, { name: "agent_id", required: true }),
      ...fields.nodes,
      h("div.actions", h("button", { type: "button", onclick: () => close() }, "Cancel"), submit));
    const close = () => { formSlot.replaceChildren(); addButton.focus(); };
    form.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      try {
        if (memory) await api.patch(api.s(`/memories/${encodeURIComponent(memory.id)}`), fields.value());
        else await api.post(api.s("/memories"), { agent_id: agent.value, ...fields.value() });
        ctx.toast.ok(memory ? "Memory saved" : "Memory added");
        close();
        reloadList();
      } catch (err) {
        showErrors(form, err);
        ctx.toast.error(`Could not save the memory: ${err.message}`);
      } finally {
        submit.disabled = false;
      }
    });
    formSlot.replaceChildren(form);
    form.querySelector("textarea").focus();
  }

  async function remove(m) {
    const ok = await ctx.confirm("Delete this memory?", m.content, { confirmLabel: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.del(api.s(`/memories/${encodeURIComponent(m.id)}`));
      ctx.toast.ok("Memory deleted");
      reloadList();
    } catch (e) {
      ctx.toast.error(`Could not delete: ${e.message}`);
    }
  }

  return () => clearTimeout(timer);
}
