// Schedules: a cron expression in a time zone sends an agent a message. Create with a preview of
// the next fire times, pause and resume, and each schedule's history with the run each fire
// started.
import { h, mono, fmtTime } from "../lib/dom.js";
import { field, showErrors, clearErrors } from "../lib/forms.js";
import { ensureStyles, gate, loadInto, emptyState, badge, pageHeader } from "./parts/kit.js";
import { textInput, select } from "./parts/forms.js";

export function render(root, ctx) {
  ensureStyles();
  const { api } = ctx;
  const listBox = h("div.list-box", { id: "schedules-list" });
  const formSlot = h("div.panel-slot");
  const newButton = gate(ctx, h("button.primary", { type: "button", onclick: () => openForm() }, "New schedule"), "member");
  let agents = [];
  let agentsLoading = Promise.resolve([]);  // the list's agents, fetched with it: the form waits for them
  let previewTimer = null;

  root.append(
    pageHeader("Schedules"),
    h("section.card.section", { "aria-labelledby": "schedules-h" },
      h("div.section-head", h("h2", { id: "schedules-h" }, "Schedules"), newButton),
      formSlot,
      listBox),
  );

  const names = () => Object.fromEntries(agents.map((a) => [a.id, a.name]));
  const reload = loadInto(listBox, async () => {
    agentsLoading = api.all(api.s("/agents"));
    agents = await agentsLoading;
    return api.get(api.s("/schedules?limit=200"));
  }, ({ items }) => {
    if (!items.length) return emptyState("No schedules yet.");
    const byId = names();
    return h("ul.item-list", { "aria-label": "Schedules" }, items.map((s) => item(s, byId)));
  });

  function item(s, byId) {
    const history = h("div.schedule-history");
    const toggle = s.enabled
      ? h("button.small", { type: "button", onclick: () => act(s, "pause"), "aria-label": `Pause ${s.cron}` }, "Pause")
      : h("button.small", { type: "button", onclick: () => act(s, "resume"), "aria-label": `Resume ${s.cron}` }, "Resume");
    return h("li.item", { dataset: { schedule: s.id } },
      h("div.item-main",
        h("div.item-title", mono(s.cron), " ", h("span", s.timezone), " → ", h("strong", byId[s.agent_id] || s.agent_id),
          s.enabled ? badge("active", "ro") : badge("paused", "rw")),
        h("p.item-desc", s.message),
        h("p.item-meta", s.next_due_at ? `Next: ${fmtTime(s.next_due_at)}` : "Paused",
          ` · session: ${s.session_policy} · missed: ${s.missed_policy}`),
        h("details", { ontoggle: (e) => { if (e.target.open) showHistory(s, history); } },
          h("summary", "History"), history)),
      h("div.item-actions",
        gate(ctx, toggle, "member"),
        gate(ctx, h("button.small.danger", { type: "button", onclick: () => remove(s), "aria-label": `Delete ${s.cron}` }, "Delete"), "member")));
  }

  function showHistory(s, box) {
    loadInto(box, () => api.get(api.s(`/schedules/${s.id}/fires?limit=50`)), ({ items }) => {
      if (!items.length) return h("p.hint", "No fires yet.");
      return h("table.table", { "aria-label": `Fires of ${s.cron}` },
        h("thead", h("tr", h("th", "Due"), h("th", "Fired"), h("th", "Status"), h("th", "Run"))),
        h("tbody", items.map((f) => h("tr",
          h("td", fmtTime(f.due_at)), h("td", fmtTime(f.fired_at)), h("td", f.status, f.error ? ` (${f.error})` : ""),
          h("td", f.run_id ? h("a", { href: `/runs/${f.run_id}` }, mono(f.run_id)) : "—")))));
    });
  }

  async function act(s, verb) {
    try {
      await api.post(api.s(`/schedules/${s.id}/${verb}`));
      ctx.toast.ok(verb === "pause" ? "Paused" : "Resumed");
      reload();
    } catch (e) {
      ctx.toast.error(`Could not ${verb}: ${e.message}`);
    }
  }

  async function remove(s) {
    const ok = await ctx.confirm("Delete this schedule?", "Its history goes with it; runs it started stay.", { confirmLabel: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.del(api.s(`/schedules/${s.id}`));
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
    const cron = textInput("cron", { value: "0 9 * * 1-5" });
    const timezone = textInput("timezone", { value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
    const message = h("textarea", { name: "message", rows: 2 });
    const sessionPolicy = select("session_policy", [["new", "A new session each time"], ["reuse", "One session for all"]], "new");
    const missed = select("missed_policy", [["skip", "Skip missed fires"], ["run_once", "Run once after downtime"]], "skip");
    const preview = h("ol.preview", { "aria-live": "polite", "aria-label": "Next fire times" });
    const previewError = h("p.field-error", { hidden: true, role: "alert" });
    const submit = h("button.primary", { type: "submit" }, "Create schedule");
    const form = h("form.form.panel", { "aria-labelledby": "new-schedule-h", novalidate: true },
      h("h3", { id: "new-schedule-h" }, "New schedule"),
      h("div.grid-2",
        field("Agent", agent, { name: "agent_id", required: true }),
        field("Cron", cron, { name: "cron", required: true, hint: "5 fields (minute first) or 6 (seconds first)." })),
      h("div.grid-2",
        field("Time zone", timezone, { name: "timezone", hint: "An IANA name, such as Europe/Paris." }),
        field("Sessions", sessionPolicy, { name: "session_policy" })),
      field("Message", message, { name: "message", required: true }),
      field("After downtime", missed, { name: "missed_policy" }),
      h("div", h("h4", "Next fire times"), preview, previewError),
      h("div.actions", h("button", { type: "button", onclick: () => close() }, "Cancel"), submit));
    const close = () => { formSlot.replaceChildren(); newButton.focus(); };
    const refreshPreview = async () => {
      try {
        const { times } = await api.post(api.s("/cron-preview"), { cron: cron.value.trim(), timezone: timezone.value.trim() });
        previewError.hidden = true;
        preview.replaceChildren(...times.map((t) => h("li", fmtTime(t))));
      } catch (e) {
        preview.replaceChildren();
        previewError.hidden = false;
        previewError.textContent = e.message;
      }
    };
    const schedulePreview = () => { clearTimeout(previewTimer); previewTimer = setTimeout(refreshPreview, 250); };
    cron.addEventListener("input", schedulePreview);
    timezone.addEventListener("input", schedulePreview);
    refreshPreview();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      try {
        await api.post(api.s("/schedules"), {
          agent_id: agent.value,
          cron: cron.value.trim(),
          timezone: timezone.value.trim(),
          message: message.value.trim(),
          session_policy: sessionPolicy.value,
          missed_policy: missed.value,
        });
        ctx.toast.ok("Schedule created");
        close();
        reload();
      } catch (e) {
        showErrors(form, e);
        ctx.toast.error(`Could not create the schedule: ${e.message}`);
      } finally {
        submit.disabled = false;
      }
    });
    formSlot.append(form);
    cron.focus();
  }

  return () => clearTimeout(previewTimer);
}
