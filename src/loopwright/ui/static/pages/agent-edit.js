// Create or edit an agent. The model is a provider (offline, the server-wide ones, the store's
// own) plus a model name; tools come from the store's tools with their read-only flag. The
// API's 422 details appear next to the fields they name. The approval policy holds tool calls
// for a person: for the agent as a whole, and per tool over it.
import { h, mono } from "../lib/dom.js";
import { clearErrors, field, showErrors } from "../lib/forms.js";
import { load } from "../lib/states.js";

const SERVER_PROVIDERS = ["offline", "openai", "anthropic", "google"];
const APPROVAL_POLICIES = [
  ["never", "never — tools run without asking"],
  ["read_write", "read-write — calls of tools that write wait for a person"],
  ["always", "always — every tool call waits for a person"],
];
const TOOL_APPROVALS = [
  ["", "as the policy says"],
  ["always", "always ask"],
  ["never", "never ask"],
];

export function render(root, ctx) {
  const { api, params } = ctx;
  const editing = Boolean(params.id);
  const body = h("div");
  root.append(h("header.page-head", h("h1", editing ? "Edit agent" : "New agent")), body);
  load(
    body,
    () =>
      Promise.all([
        editing ? api.get(api.s(`/agents/${encodeURIComponent(params.id)}`)) : null,
        api.get(api.s("/providers")).then((p) => p.items).catch(() => []),
        api.get(api.s("/tools")).then((t) => t.items),
      ]),
    ([agent, providers, tools]) => body.append(form(ctx, agent, providers, tools)),
    { rows: 6 },
  );
}

function form(ctx, agent, providers, tools) {
  const { api, router, toast } = ctx;
  const a = agent || {};
  const [provider0, ...rest] = (a.model || "offline:default").split(":");
  const modelName0 = rest.join(":");

  const name = h("input", { type: "text", value: a.name || "", autocomplete: "off" });
  const description = h("input", { type: "text", value: a.description || "" });
  const goal = h("textarea", { rows: 2 }, a.goal || "");
  const systemPrompt = h("textarea.mono", { rows: 5 }, a.system_prompt || "");
  const providerNames = [...SERVER_PROVIDERS, ...providers.map((p) => p.name)];
  if (!providerNames.includes(provider0)) providerNames.push(provider0);
  const provider = h(
    "select",
    { "aria-label": "Provider" },
    providerNames.map((p) => h("option", { value: p, selected: p === provider0 }, storeProvider(providers, p) ? `${p} (this store)` : p)),
  );
  const modelName = h("input.mono", { type: "text", value: modelName0, "aria-label": "Model name", placeholder: "e.g. gpt-4o-mini" });
  provider.addEventListener("change", () => {
    if (provider.value === "offline" && !modelName.value) modelName.value = "default";
  });
  const modelControl = h("div.model-pick", provider, modelName);
  const temperature = h("input", { type: "number", min: "0", max: "2", step: "0.1", value: a.temperature ?? "" });
  const maxSteps = h("input", { type: "number", min: "1", max: "100", step: "1", value: a.max_steps ?? 15 });
  const timeout = h("input", { type: "number", min: "1", max: "3600", step: "1", value: a.timeout_s ?? 300 });
  const mode = h(
    "select",
    [["single", "single — one agent answers"], ["team", "team — a planner with read-only executors"]].map(([value, label]) => h("option", { value, selected: value === (a.mode || "single") }, label)),
  );
  const executorModel = h("input.mono", { type: "text", value: a.executor_model || "", placeholder: "empty: the planner's model" });
  const executorPrompt = h("textarea.mono", { rows: 4 }, a.executor_system_prompt || "");
  const teamFields = h(
    "fieldset.team-fields",
    h("legend", "Team executors"),
    field("Executor model", executorModel, { name: "executor_model", hint: "provider:model for the executors; empty uses the planner's model." }),
    field("Executor system prompt", executorPrompt, { name: "executor_system_prompt", hint: "Empty: a built-in executor prompt." }),
  );
  const showTeam = () => (teamFields.hidden = mode.value !== "team");
  mode.addEventListener("change", showTeam);
  showTeam();
  const memoryOn = h("input", { type: "checkbox", checked: !!a.memory });
  const memoryBudget = h("input", { type: "number", min: "0", max: "20000", step: "50", value: a.memory_budget_tokens ?? 500 });
  const reflectIdle = h("input", { type: "number", min: "10", max: "2592000", step: "1", value: a.reflect_idle_s ?? "" });
  const memoryFields = h(
    "fieldset.memory-fields",
    h("legend", "Long-term memory"),
    h("div.field.check", { dataset: { field: "memory" } }, h("label", memoryOn, " Give runs the most relevant memories"), h("p.field-error", { hidden: true })),
    h("div.grid-2",
      field("Memory budget (tokens)", memoryBudget, { name: "memory_budget_tokens", hint: "0–20000; about four characters a token" }),
      field("Reflect after idle (s)", reflectIdle, { name: "reflect_idle_s", hint: "Suggest memories once a session is quiet this long; empty: only on request" })),
  );
  const approval = h(
    "select",
    APPROVAL_POLICIES.map(([value, label]) => h("option", { value, selected: value === (a.approval || "never") }, label)),
  );
  const chosen = new Set(a.tools || []);
  const perTool = a.tool_approvals || {};
  const toolApprovals = new Map();
  const toolBoxes = tools.map((t) => {
    const box = h("input", { type: "checkbox", value: t.name, checked: chosen.has(t.name) });
    const ask = h(
      "select.tool-approval",
      { "aria-label": `Approval for ${t.name}` },
      TOOL_APPROVALS.map(([value, label]) => h("option", { value, selected: value === (perTool[t.name] || "") }, label)),
    );
    toolApprovals.set(t.name, ask);
    return h(
      "div.tool-pick",
      h("label", box, mono(t.name), h("span.badge", t.read_only ? "read-only" : "read-write"), h("span.muted.small", t.kind)),
      ask,
    );
  });
  const toolPicker = h("fieldset.tool-picks", h("legend.sr-only", "Tools"), toolBoxes.length ? toolBoxes : h("p.muted", "This store has no tools."));
  const submit = h("button.primary", { type: "submit" }, editing(agent) ? "Save" : "Create agent");

  const el = h(
    "form.form.card",
    { novalidate: true },
    field("Name", name, { name: "name", required: true, hint: "Unique in the store: letters, digits, spaces, . _ -" }),
    field("Description", description, { name: "description" }),
    field("Goal", goal, { name: "goal" }),
    field("System prompt", systemPrompt, { name: "system_prompt" }),
    field("Model", modelControl, { name: "model", hint: "provider:model — offline:default works with no key." }),
    h(
      "div.grid-2",
      field("Temperature", temperature, { name: "temperature", hint: "0–2; empty for the model's default" }),
      field("Max steps", maxSteps, { name: "max_steps", hint: "1–100" }),
      field("Timeout (s)", timeout, { name: "timeout_s", hint: "up to 3600" }),
    ),
    field("Mode", mode, { name: "mode", hint: "Team: the agent plans, runs read-only executors per step and writes the answer from their results." }),
    teamFields,
    memoryFields,
    field("Tools", toolPicker, { name: "tools", hint: "Per tool, whether its calls wait for a person, over the approval policy." }),
    field("Approval", approval, { name: "approval", hint: "Which tool calls wait for a person to approve or reject them before they run." }),
    h("div.actions", h("a.button", { href: agent ? `/agents/${encodeURIComponent(agent.id)}` : "/agents" }, "Cancel"), submit),
  );
  // field() pointed the label at the container; point it at the first control instead.
  el.querySelector('[data-field="model"] label').htmlFor = provider.id = `${modelControl.id}-provider`;

  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(el);
    const payload = {
      name: name.value.trim(),
      description: description.value,
      goal: goal.value,
      system_prompt: systemPrompt.value,
      model: `${provider.value}:${modelName.value.trim()}`,
      max_steps: numberOr(maxSteps.value),
      timeout_s: numberOr(timeout.value),
      tools: toolBoxes.map((l) => l.querySelector("input")).filter((b) => b.checked).map((b) => b.value),
      approval: approval.value,
      tool_approvals: Object.fromEntries([...toolApprovals].filter(([, ask]) => ask.value).map(([tool, ask]) => [tool, ask.value])),
    };
    payload.mode = mode.value;
    payload.memory = memoryOn.checked;
    payload.memory_budget_tokens = numberOr(memoryBudget.value);
    payload.reflect_idle_s = reflectIdle.value === "" ? null : numberOr(reflectIdle.value);
    if (mode.value === "team") {
      payload.executor_model = executorModel.value.trim() || null;
      payload.executor_system_prompt = executorPrompt.value;
    }
    if (temperature.value !== "") payload.temperature = numberOr(temperature.value);
    submit.disabled = true;
    try {
      const saved = agent
        ? await api.patch(api.s(`/agents/${encodeURIComponent(agent.id)}`), payload)
        : await api.post(api.s("/agents"), payload);
      toast.ok(agent ? `Saved ${saved.name}` : `Created ${saved.name}`);
      router.go(`/agents/${encodeURIComponent(saved.id)}`);
    } catch (err) {
      showErrors(el, err);
      toast.error(err.message);
    } finally {
      submit.disabled = false;
    }
  });
  return el;
}

function editing(agent) {
  return Boolean(agent);
}

function storeProvider(providers, name) {
  return providers.some((p) => p.name === name);
}

/** A number input's value as a number (the API takes no strings), or the raw text so the
 *  server's 422 names the field. */
function numberOr(text) {
  const n = Number(text);
  return text.trim() === "" || Number.isNaN(n) ? text : n;
}
