// Settings: the store's limits with usage meters (this minute, today) and the settings its admin
// may change; tool calls waiting for approval; (admin) API keys — created with a role and shown
// once, listed, revoked — and model providers — an OpenAI-compatible base URL with a key that is
// never shown again.
import { h, fill, mono, fmtTime, nextId } from "../lib/dom.js";
import { field, showErrors, clearErrors } from "../lib/forms.js";
import { ensureStyles, gate, loadInto, emptyState, badge, pageHeader, copyText } from "./parts/kit.js";
import { checkbox, select, textInput } from "./parts/forms.js";
import { approvalCard } from "./parts/approvals.js";

const ROLES = [["readonly", "readonly"], ["member", "member"], ["admin", "admin"]];

export function render(root, ctx) {
  ensureStyles();
  const admin = ctx.can("admin");
  const keysSection = h("section.card.section", { "aria-labelledby": "keys-h" });
  const providersSection = h("section.card.section", { "aria-labelledby": "providers-h" });
  const limitsSection = h("section.card.section", { "aria-labelledby": "limits-h" });
  const approvalsSection = h("section.card.section", { "aria-labelledby": "approvals-h" });
  fill(root, pageHeader("Settings"),
    admin ? null : h("p.notice", { role: "note" }, `Settings are managed with an admin key; this key is ${ctx.me?.role ?? "unknown"}.`),
    limitsSection, approvalsSection, keysSection, providersSection);
  renderLimits(limitsSection, ctx, admin);
  renderApprovals(approvalsSection, ctx);
  renderKeys(keysSection, ctx, admin);
  renderProviders(providersSection, ctx, admin);
}

function renderKeys(section, ctx, admin) {
  const { api } = ctx;
  const box = h("div.list-box", { id: "keys-list" });
  const issued = h("div", { "aria-live": "polite" });
  const role = select("role", ROLES, "member");
  const name = textInput("name", { placeholder: "ci-bot", maxLength: 200 });
  const form = h("form.panel.inline-form", { "aria-label": "Create an API key", novalidate: true },
    field("Role", role, { name: "role", hint: "readonly reads; member also chats and cancels runs; admin also manages agents, tools and keys." }),
    field("Name (optional)", name, { name: "name" }),
    h("div.filter-actions", gate(ctx, h("button.primary", { type: "submit" }, "Create key"), "admin")));
  fill(section, h("h2", { id: "keys-h" }, "API keys"), admin ? [form, issued, box] : h("p.muted", "Listing and creating keys needs the admin role."));
  if (!admin) return;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const created = await api.post(api.s("/keys"), { role: role.value, name: name.value.trim() });
      name.value = "";
      showIssued(created);
      ctx.toast.ok(`Created a ${created.role} key`);
      load();
    } catch (e) {
      showErrors(form, e);
      ctx.toast.error(`Could not create the key: ${e.message}`);
    }
  });

  function showIssued(created) {
    const secretId = nextId("key");
    const copy = h("button.primary", { type: "button", onclick: () => copyText(ctx, created.key, "Key copied") }, "Copy key");
    fill(issued, h("div.issued", { role: "region", "aria-labelledby": `${secretId}-h` },
      h("h3", { id: `${secretId}-h` }, `New ${created.role} key${created.name ? ` “${created.name}”` : ""}`),
      h("p.warn", "This is the only time the key is shown. Copy it now and keep it somewhere safe."),
      h("div.secret-row", h("input.mono", { id: secretId, readOnly: true, value: created.key, "aria-label": "The new API key", onfocus: (e) => e.target.select() }), copy),
      h("button.small", { type: "button", onclick: () => fill(issued) }, "Done, I have copied it")));
    copy.focus();
  }

  const load = () => loadInto(box, () => api.all(api.s("/keys"), {}, 1000), (items) => {
    if (!items.length) return emptyState("No keys — create one above.");
    return h("div.table-wrap", h("table.data.stack", { id: "keys-table" },
      h("caption.sr-only", "API keys, newest first"),
      h("thead", h("tr", ["Name", "Role", "Starts with", "Created", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", items.map((key) => {
        const mine = key.id === ctx.me?.key_id;
        const revoke = h("button.small.danger", { type: "button", "aria-label": `Revoke key ${key.name || key.prefix}` }, "Revoke");
        revoke.addEventListener("click", async () => {
          const ok = await ctx.confirm(
            `Revoke ${key.name ? `“${key.name}”` : `the key ${key.prefix}…`}?`,
            mine ? "This is the key you are signed in with: this tab will be signed out." : "Anything using it gets 401 from now on. This cannot be undone.",
            { confirmLabel: "Revoke", danger: true },
          );
          if (!ok) return;
          try {
            await api.del(api.s(`/keys/${encodeURIComponent(key.id)}`));
            ctx.toast.ok(`Revoked ${key.name || key.prefix}`);
            load();
          } catch (e) {
            ctx.toast.error(`Could not revoke: ${e.message}`);
          }
        });
        return h("tr", { dataset: { key: key.id } },
          h("td", { dataset: { label: "Name" } }, key.name || h("span.muted", "(no name)"), mine ? badge("this tab", "ro") : null),
          h("td", { dataset: { label: "Role" } }, key.role),
          h("td", { dataset: { label: "Starts with" } }, mono(`${key.prefix}…`)),
          h("td", { dataset: { label: "Created" } }, fmtTime(key.created_at)),
          h("td", { dataset: { label: "Actions" } }, revoke));
      }))));
  });
  load();
}

function renderProviders(section, ctx, admin) {
  const { api } = ctx;
  const box = h("div.list-box", { id: "providers-list" });
  const name = textInput("name", { required: true, placeholder: "local-llm" });
  const kind = select("kind", [["openai", "OpenAI-compatible"], ["anthropic", "Anthropic"], ["google", "Google"]], "openai");
  const baseUrl = textInput("base_url", { placeholder: "https://llm.example.com/v1", inputMode: "url" });
  const apiKey = h("input", { type: "password", name: "api_key", autocomplete: "new-password" });
  const form = h("form.form.panel", { "aria-labelledby": "new-provider-h", novalidate: true },
    h("h3", { id: "new-provider-h" }, "Register a provider"),
    h("div.grid-2",
      field("Name", name, { name: "name", required: true, hint: "Agents then use models as name:model, e.g. local-llm:llama3." }),
      field("Kind", kind, { name: "kind" })),
    field("Base URL", baseUrl, { name: "base_url", hint: "For an OpenAI-compatible server: its /v1 URL." }),
    field("API key", apiKey, { name: "api_key", hint: "Encrypted at rest and never shown again — keep your own copy." }),
    h("div.actions", gate(ctx, h("button.primary", { type: "submit" }, "Register provider"), "admin")));
  fill(section, h("h2", { id: "providers-h" }, "Model providers"),
    h("p.muted", "The offline provider is always there (offline:default); openai, anthropic and google use the server's own keys."),
    admin ? form : null, box);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { name: name.value.trim(), kind: kind.value };
    if (baseUrl.value.trim()) body.base_url = baseUrl.value.trim();
    if (apiKey.value) body.api_key = apiKey.value;
    try {
      const created = await api.post(api.s("/providers"), body);
      form.reset();
      ctx.toast.ok(`Registered ${created.name}`);
      load();
    } catch (e) {
      showErrors(form, e);
      ctx.toast.error(`Could not register the provider: ${e.message}`);
    }
  });

  const load = () => loadInto(box, () => api.get(api.s("/providers")), ({ items }) => {
    if (!items.length) return emptyState(admin ? "No providers of this store yet — register one above to use your own model server." : "No providers of this store yet.");
    return h("ul.item-list", { "aria-label": "Providers" }, items.map((p) => {
      const remove = gate(ctx, h("button.small.danger", { type: "button", "aria-label": `Delete provider ${p.name}` }, "Delete"), "admin");
      remove.addEventListener("click", async () => {
        const ok = await ctx.confirm(`Delete ${p.name}?`, `Agents using ${p.name}:… models fail until it is registered again.`, { confirmLabel: "Delete", danger: true });
        if (!ok) return;
        try {
          await api.del(api.s(`/providers/${encodeURIComponent(p.id)}`));
          ctx.toast.ok(`Deleted ${p.name}`);
          load();
        } catch (e) {
          ctx.toast.error(`Could not delete ${p.name}: ${e.message}`);
        }
      });
      return h("li.item", { dataset: { provider: p.name } },
        h("div.item-main",
          h("div.item-title", mono(p.name), badge(p.kind), p.has_api_key ? badge("key stored", "ok") : badge("no key")),
          h("p.item-meta", p.base_url ? mono(p.base_url) : "the kind's default URL", ` · added ${fmtTime(p.created_at)}`)),
        h("div.item-actions", remove));
    }));
  });
  load();
}

const NUMBER = new Intl.NumberFormat();

function meter(label, used, limit) {
  const text = limit == null ? `${NUMBER.format(used)} (no limit)` : `${NUMBER.format(used)} of ${NUMBER.format(limit)}`;
  const id = nextId("meter");
  return h("div.meter-row", { dataset: { meter: label } },
    h("label", { for: id }, `${label}: `, h("span.meter-text", text)),
    limit == null ? null : h("meter", { id, min: 0, max: limit, value: Math.min(used, limit), low: limit * 0.7, high: limit * 0.9, optimum: 0 }));
}

function renderLimits(section, ctx, admin) {
  const { api } = ctx;
  const meters = h("div.meters", { id: "limit-meters", "aria-live": "polite" });
  const box = h("div", { id: "limits-form-box" });
  fill(section, h("h2", { id: "limits-h" }, "Limits and usage"),
    h("p.muted", "Counted per UTC minute and day across every server process. Rates and the store's daily budget are set by the operator."),
    meters, box);

  const loadUsage = () => loadInto(meters, () => api.get(api.s("/limits")), (u) => [
    u.runs_enabled ? null : h("p.notice", { role: "status" }, "Runs are switched off: new messages are refused."),
    meter("Runs this minute", u.minute.runs.used, u.minute.runs.limit),
    meter("Tokens this minute", u.minute.tokens.used, u.minute.tokens.limit),
    meter("Tokens today", u.day.tokens.used, u.day.tokens.limit),
    ...u.agents.map((a) => meter(`Agent ${a.agent_id} today`, a.tokens_today.used, a.tokens_today.limit)),
    ...u.tools.map((t) => meter(`${t.tool} calls this minute`, t.calls_this_minute.used, t.calls_this_minute.limit)),
  ]);

  loadInto(box, () => api.get(api.s("/settings")), (st) => {
    const { input: enabled, el: enabledField } = checkbox("runs_enabled", "Runs enabled (off: new messages are refused; accepted runs go on)", st.runs_enabled);
    const overLimit = select("over_limit", [["reject", "refuse (429)"], ["queue", "queue the run"]], st.over_limit);
    const toolRate = textInput("tool_calls_per_min", { inputMode: "numeric", value: st.tool_calls_per_min ?? "", placeholder: "server default" });
    const ttl = textInput("approval_ttl_s", { inputMode: "numeric", value: String(st.approval_ttl_s) });
    const fixed = h("dl.facts", { id: "operator-limits" },
      h("dt", "Runs per minute"), h("dd", st.runs_per_min == null ? "no limit" : NUMBER.format(st.runs_per_min)),
      h("dt", "Tokens per minute"), h("dd", st.tokens_per_min == null ? "no limit" : NUMBER.format(st.tokens_per_min)),
      h("dt", "Daily token budget"), h("dd", st.daily_token_budget == null ? "none" : NUMBER.format(st.daily_token_budget)),
      h("dt", "Concurrent runs"), h("dd", String(st.store_concurrency)));
    const form = h("form.form.panel", { "aria-label": "Store settings", novalidate: true },
      enabledField,
      h("div.grid-2",
        field("Over the runs-per-minute limit", overLimit, { name: "over_limit" }),
        field("Calls per minute of each tool", toolRate, { name: "tool_calls_per_min", hint: "Empty: the server's default." })),
      field("Approvals expire after (seconds)", ttl, { name: "approval_ttl_s", hint: "An expired approval counts as rejected." }),
      h("div.actions", gate(ctx, h("button.primary", { type: "submit" }, "Save settings"), "admin")));
    if (!admin) for (const c of form.querySelectorAll("input, select")) c.disabled = true;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = {
        runs_enabled: enabled.checked,
        over_limit: overLimit.value,
        tool_calls_per_min: toolRate.value.trim() ? Number(toolRate.value) : null,
        approval_ttl_s: Number(ttl.value),
      };
      try {
        await api.patch(api.s("/settings"), body);
        ctx.toast.ok("Saved the store settings");
        loadUsage();
      } catch (e) {
        showErrors(form, e);
        ctx.toast.error(`Could not save the settings: ${e.message}`);
      }
    });
    return [fixed, form];
  });
  loadUsage();
}

function renderApprovals(section, ctx) {
  const { api } = ctx;
  const box = h("div.list-box", { id: "approvals-list" });
  fill(section, h("h2", { id: "approvals-h" }, "Pending approvals"),
    h("p.muted", "Tool calls waiting for a person; their runs wait without holding a slot."), box);
  const load = () => loadInto(box, () => api.get(api.s("/approvals"), { status: "pending", limit: 200 }), ({ items }) => {
    if (!items.length) return emptyState("No tool call is waiting for approval.");
    return items.map((approval) => h("div.pending-approval",
      h("p.item-meta", `Run `, h("a", { href: `/runs/${encodeURIComponent(approval.run_id)}` }, mono(approval.run_id)), ` · agent ${approval.agent_id} · asked ${fmtTime(approval.created_at)}`),
      approvalCard(ctx, approval)));
  });
  load();
}
