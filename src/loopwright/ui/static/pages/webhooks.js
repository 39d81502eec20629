// Webhooks: inbound URLs (the secret shown once, at creation) with the messages each accepted,
// and the store's completion-callback deliveries with every attempt.
import { h, mono, fmtTime } from "../lib/dom.js";
import { field, showErrors, clearErrors } from "../lib/forms.js";
import { ensureStyles, gate, loadInto, emptyState, badge, pageHeader } from "./parts/kit.js";
import { textInput, select } from "./parts/forms.js";

export function render(root, ctx) {
  ensureStyles();
  const { api } = ctx;
  const listBox = h("div.list-box", { id: "webhooks-list" });
  const deliveriesBox = h("div.list-box", { id: "deliveries-list" });
  const formSlot = h("div.panel-slot");
  const newButton = gate(ctx, h("button.primary", { type: "button", onclick: () => openForm() }, "New webhook"), "admin");
  let agents = [];
  let agentsLoading = Promise.resolve([]);  // the list's agents, fetched with it: the form waits for them

  root.append(
    pageHeader("Webhooks"),
    h("section.card.section", { "aria-labelledby": "webhooks-h" },
      h("div.section-head", h("h2", { id: "webhooks-h" }, "Inbound webhooks"), newButton),
      formSlot,
      listBox),
    h("section.card.section", { "aria-labelledby": "deliveries-h" },
      h("div.section-head", h("h2", { id: "deliveries-h" }, "Completion callbacks")),
      deliveriesBox),
  );

  const reload = loadInto(listBox, async () => {
    agentsLoading = api.all(api.s("/agents"));
    agents = await agentsLoading;
    return api.get(api.s("/webhooks?limit=200"));
  }, ({ items }) => {
    if (!items.length) return emptyState("No webhooks yet.");
    const byId = Object.fromEntries(agents.map((a) => [a.id, a.name]));
    return h("ul.item-list", { "aria-label": "Webhooks" }, items.map((w) => item(w, byId)));
  });

  loadInto(deliveriesBox, () => api.get(api.s("/deliveries?limit=50")), ({ items }) => {
    if (!items.length) return h("p.hint", "No callbacks yet: a message with a callback_url gets one.");
    return h("table.table", { "aria-label": "Deliveries" },
      h("thead", h("tr", h("th", "Run"), h("th", "URL"), h("th", "Status"), h("th", "Attempts"), h("th", "Last"))),
      h("tbody", items.map((d) => {
        const last = d.attempts_log[d.attempts_log.length - 1];
        return h("tr",
          h("td", h("a", { href: `/runs/${d.run_id}` }, mono(d.run_id))),
          h("td", mono(d.url)), h("td", d.status), h("td", String(d.attempts)),
          h("td", last ? `${fmtTime(last.at)} ${last.status_code ?? ""} ${last.error ?? ""}` : "—"));
      })));
  });

  function item(w, byId) {
    const receipts = h("div");
    return h("li.item", { dataset: { webhook: w.id } },
      h("div.item-main",
        h("div.item-title", h("strong", w.name || w.id), " → ", byId[w.agent_id] || w.agent_id,
          w.enabled ? badge("enabled", "ro") : badge("disabled", "rw")),
        h("p.item-meta", "POST to ", mono(w.url)),
        w.template ? h("p.item-desc", "Template: ", mono(w.template)) : null,
        h("details", { ontoggle: (e) => { if (e.target.open) showReceipts(w, receipts); } },
          h("summary", "Received"), receipts)),
      h("div.item-actions",
        gate(ctx, h("button.small.danger", { type: "button", onclick: () => remove(w), "aria-label": `Delete ${w.name || w.id}` }, "Delete"), "admin")));
  }

  function showReceipts(w, box) {
    loadInto(box, () => api.get(api.s(`/webhooks/${w.id}/receipts?limit=50`)), ({ items }) => {
      if (!items.length) return h("p.hint", "Nothing received yet.");
      return h("table.table", { "aria-label": `Received by ${w.name || w.id}` },
        h("thead", h("tr", h("th", "Received"), h("th", "webhook-id"), h("th", "Run"))),
        h("tbody", items.map((r) => h("tr", h("td", fmtTime(r.received_at)), h("td", mono(r.message_id)),
          h("td", r.run_id ? h("a", { href: `/runs/${r.run_id}` }, mono(r.run_id)) : "—")))));
    });
  }

  async function remove(w) {
    const ok = await ctx.confirm("Delete this webhook?", "Its URL stops accepting messages.", { confirmLabel: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.del(api.s(`/webhooks/${w.id}`));
      reload();
    } catch (e) {
      ctx.toast.error(`Could not delete: ${e.message}`);
    }
  }

  async function openForm() {
    if (formSlot.firstChild) return;
    // a click before the page's first load ended would offer no agent (and send none)
    agents = await agentsLoading.catch(() => agents);
    if (formSlot.firstChild) return;
    const agent = select("agent_id", agents.map((a) => [a.id, a.name]), agents[0]?.id);
    const name = textInput("name", { placeholder: "issue-tracker" });
    const template = textInput("template", { placeholder: "New issue: {body.title}" });
    const submit = h("button.primary", { type: "submit" }, "Create webhook");
    const form = h("form.form.panel", { "aria-labelledby": "new-webhook-h", novalidate: true },
      h("h3", { id: "new-webhook-h" }, "New webhook"),
      h("div.grid-2", field("Agent", agent, { name: "agent_id", required: true }), field("Name", name, { name: "name" })),
      field("Template", template, { name: "template", hint: "{body} is the body, {body.a.b} one field; empty: the body itself." }),
      h("div.actions", h("button", { type: "button", onclick: () => close() }, "Cancel"), submit));
    const close = () => { formSlot.replaceChildren(); newButton.focus(); };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      try {
        const created = await api.post(api.s("/webhooks"), { agent_id: agent.value, name: name.value.trim(), template: template.value });
        formSlot.replaceChildren(shownOnce(created));
        reload();
      } catch (e) {
        showErrors(form, e);
        ctx.toast.error(`Could not create the webhook: ${e.message}`);
      } finally {
        submit.disabled = false;
      }
    });
    formSlot.append(form);
    name.focus();
  }

  function shownOnce(created) {
    const done = h("button.primary", { type: "button", onclick: () => { formSlot.replaceChildren(); newButton.focus(); } }, "Done");
    return h("div.panel", { role: "region", "aria-label": "New webhook secret" },
      h("h3", "Webhook created"),
      h("p", "Send signed POSTs (Standard Webhooks) to:"), h("p", mono(created.url)),
      h("p", "Its secret, shown this once — copy it now:"), h("p", { dataset: { secret: "" } }, mono(created.secret)),
      h("div.actions", done));
  }
}
