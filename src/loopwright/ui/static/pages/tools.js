// Tools & MCP: every tool of the store (built-in, HTTP, MCP) with its schema; HTTP tools to
// create and delete; MCP servers to register, check and delete; any tool tested with arguments.
import { h, mono, fmtDuration } from "../lib/dom.js";
import { field, showErrors, clearErrors } from "../lib/forms.js";
import {
  ensureStyles, gate, loadInto, emptyState, jsonDetails, jsonBlock, parseJson, localProblem,
  badge, pageHeader,
} from "./parts/kit.js";
import { headersEditor, textInput, select, checkbox, jsonArea } from "./parts/forms.js";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/** Arguments to start from: each property of the schema with an empty value of its type. */
export function exampleArguments(schema) {
  const out = {};
  for (const [key, prop] of Object.entries(schema?.properties || {})) {
    const t = Array.isArray(prop?.type) ? prop.type[0] : prop?.type;
    const empty = { integer: 0, number: 0, boolean: false, array: [], object: {} };
    out[key] = prop?.default ?? (t in empty ? empty[t] : "");
  }
  return out;
}

export function render(root, ctx) {
  ensureStyles();
  const { api } = ctx;
  const admin = ctx.can("admin");
  const toolsBox = h("div.list-box", { id: "tools-list" });
  const mcpBox = h("div.list-box", { id: "mcp-list" });
  const toolForm = h("div.panel-slot");
  const mcpForm = h("div.panel-slot");
  const newTool = gate(ctx, h("button.primary", { type: "button", onclick: () => openToolForm() }, "New HTTP tool"), "admin");
  const newServer = gate(ctx, h("button.primary", { type: "button", onclick: () => openMcpForm() }, "Register MCP server"), "admin");

  root.append(
    pageHeader("Tools & MCP"),
    h("section.card.section", { "aria-labelledby": "tools-h" },
      h("div.section-head", h("h2", { id: "tools-h" }, "Tools"), newTool),
      toolForm,
      toolsBox),
    h("section.card.section", { "aria-labelledby": "mcp-h" },
      h("div.section-head", h("h2", { id: "mcp-h" }, "MCP servers"), newServer),
      mcpForm,
      mcpBox),
  );

  // -- tools --------------------------------------------------------------------------------
  const loadTools = loadInto(toolsBox, () => api.get(api.s("/tools")), ({ items }) => {
    if (!items.length) {
      return emptyState("No tools yet — create an HTTP tool or register an MCP server.",
        admin ? h("button", { type: "button", onclick: () => openToolForm() }, "New HTTP tool") : null);
    }
    return h("ul.item-list", { "aria-label": "Tools" }, items.map((tool) => toolItem(tool)));
  });

  function toolItem(tool) {
    const actions = h("div.item-actions",
      gate(ctx, h("button.small", { type: "button", onclick: () => testTool(tool), "aria-label": `Test ${tool.name}` }, "Test"), "admin"));
    if (tool.kind === "http") {
      actions.append(gate(ctx, h("button.small.danger", { type: "button", onclick: () => deleteTool(tool), "aria-label": `Delete ${tool.name}` }, "Delete"), "admin"));
    }
    return h(
      "li.item", { dataset: { tool: tool.name } },
      h("div.item-main",
        h("div.item-title", mono(tool.name), badge(tool.kind), tool.read_only ? badge("read-only", "ro") : badge("read-write", "rw")),
        tool.description ? h("p.item-desc", tool.description) : null,
        tool.http
          ? h("p.item-meta", h("span", tool.http.method), " ", mono(tool.http.url),
            tool.http.header_names.length ? ` · secret headers: ${tool.http.header_names.join(", ")}` : null)
          : null,
        jsonDetails("Parameters schema", tool.parameters)),
      actions,
    );
  }

  async function deleteTool(tool) {
    const ok = await ctx.confirm(`Delete ${tool.name}?`, "Agents that use it will no longer be offered it.", { confirmLabel: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.del(api.s(`/tools/${encodeURIComponent(tool.name)}`));
      ctx.toast.ok(`Deleted ${tool.name}`);
      loadTools();
    } catch (e) {
      ctx.toast.error(`Could not delete ${tool.name}: ${e.message}`);
    }
  }

  function openToolForm() {
    if (toolForm.firstChild) {
      toolForm.querySelector("input")?.focus();
      return;
    }
    const name = textInput("name", { placeholder: "lookup_order" });
    const description = h("textarea", { name: "description", rows: 2 });
    const url = textInput("url", { placeholder: "https://api.example.com/orders/{order_id}", inputMode: "url" });
    const method = select("method", METHODS.map((m) => [m, m]), "POST");
    const parameters = jsonArea("parameters", { type: "object", properties: {}, required: [] }, 7);
    const headers = headersEditor("Secret headers");
    const readOnly = checkbox("read_only", "Read-only (the tool changes nothing)");
    const submit = h("button.primary", { type: "submit" }, "Create tool");
    const form = h(
      "form.form.panel", { "aria-labelledby": "new-tool-h", novalidate: true },
      h("h3", { id: "new-tool-h" }, "New HTTP tool"),
      h("div.grid-2",
        field("Name", name, { name: "name", required: true, hint: "Letters, digits, _ and -; unique in the store." }),
        field("Method", method, { name: "method" })),
      field("Description", description, { name: "description", required: true, hint: "What the model reads to decide when to call it." }),
      field("URL template", url, { name: "url", required: true, hint: "Use {param} placeholders for parameters." }),
      field("Parameters (JSON Schema)", parameters, { name: "parameters", hint: "An object schema; every {placeholder} must be one of its properties." }),
      headers,
      readOnly.el,
      h("div.actions", h("button", { type: "button", onclick: () => close() }, "Cancel"), submit),
    );
    const close = () => { toolForm.replaceChildren(); newTool.focus(); };
    form.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const [schema, problem] = parseJson(parameters.value);
      if (problem) return void showErrors(form, localProblem("parameters", problem));
      submit.disabled = true;
      try {
        const created = await api.post(api.s("/tools"), {
          name: name.value.trim(),
          description: description.value.trim(),
          url: url.value.trim(),
          method: method.value,
          parameters: schema,
          headers: headers.value(),
          read_only: readOnly.input.checked,
        });
        ctx.toast.ok(`Created ${created.name}`);
        close();
        loadTools();
      } catch (e) {
        showErrors(form, e);
        ctx.toast.error(`Could not create the tool: ${e.message}`);
      } finally {
        submit.disabled = false;
      }
    });
    toolForm.replaceChildren(form);
    name.focus();
  }

  function testTool(tool) {
    ctx.modal(`Test ${tool.name}`, (close) => {
      const args = jsonArea("arguments", exampleArguments(tool.parameters), 8);
      const result = h("div.test-result", { "aria-live": "polite" });
      const run = h("button.primary", { type: "submit" }, "Run");
      const form = h(
        "form", { novalidate: true },
        tool.read_only ? null : h("p.warn", "This tool is read-write: running it may change things."),
        field("Arguments (JSON)", args, { name: "arguments", hint: "Checked against the tool's schema before it runs." }),
        h("div.actions", h("button", { type: "button", onclick: () => close() }, "Close"), run),
        result,
      );
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearErrors(form);
        const [value, problem] = parseJson(args.value);
        if (problem) return void showErrors(form, localProblem("arguments", problem));
        run.disabled = true;
        result.replaceChildren(h("p.muted", "Running…"));
        try {
          const out = await api.post(api.s(`/tools/${encodeURIComponent(tool.name)}/test`), { arguments: value });
          result.replaceChildren(
            h("p.test-outcome", out.ok ? badge("ok", "ok") : badge("error", "error"), ` in ${fmtDuration(out.duration_ms)}`),
            jsonBlock(out.result, "Result"));
          (out.ok ? ctx.toast.ok : ctx.toast.error)(`${tool.name}: ${out.ok ? "ok" : "error"} in ${fmtDuration(out.duration_ms)}`);
        } catch (e) {
          result.replaceChildren();
          const problems = e.details && !Array.isArray(e.details) ? e.details.problems : null;
          showErrors(form, problems ? localProblem("arguments", [].concat(problems).join("; ")) : e);
        } finally {
          run.disabled = false;
        }
      });
      return form;
    }, { wide: true });
  }

  // -- MCP servers ------------------------------------------------------------------------------
  const loadServers = loadInto(mcpBox, () => api.get(api.s("/mcp-servers")), ({ items }) => {
    if (!items.length) {
      return emptyState("No MCP servers yet — register one to give agents its tools.",
        admin ? h("button", { type: "button", onclick: () => openMcpForm() }, "Register MCP server") : null);
    }
    return h("ul.item-list", { "aria-label": "MCP servers" }, items.map((server) => serverItem(server)));
  });

  function serverItem(server) {
    const health = h("div.health", { "aria-live": "polite" });
    const check = gate(ctx, h("button.small", { type: "button", "aria-label": `Check health of ${server.name}` }, "Check health"), "admin");
    check.addEventListener("click", async () => {
      check.disabled = true;
      health.replaceChildren(h("p.muted", "Checking…"));
      try {
        const out = await api.post(api.s(`/mcp-servers/${encodeURIComponent(server.id)}/health`));
        health.replaceChildren(
          h("p.health-status", out.ok ? badge("healthy", "ok") : badge("unhealthy", "error"),
            ` ${fmtDuration(out.latency_ms)}`,
            out.ok ? ` · ${out.tools.length} tool${out.tools.length === 1 ? "" : "s"}` : null),
          out.error ? h("p.error-text", out.error) : null,
          out.tools.length ? h("ul.chips", { "aria-label": `Tools of ${server.name}` }, out.tools.map((t) => h("li", mono(t)))) : null);
        (out.ok ? ctx.toast.ok : ctx.toast.error)(`${server.name}: ${out.ok ? "healthy" : "unhealthy"}`);
        if (out.ok) loadTools();
      } catch (e) {
        health.replaceChildren(h("p.error-text", e.message));
        ctx.toast.error(`Health check failed: ${e.message}`);
      } finally {
        check.disabled = false;
      }
    });
    const remove = gate(ctx, h("button.small.danger", { type: "button", "aria-label": `Delete ${server.name}` }, "Delete"), "admin");
    remove.addEventListener("click", async () => {
      const ok = await ctx.confirm(`Delete ${server.name}?`, "Its tools disappear from every agent.", { confirmLabel: "Delete", danger: true });
      if (!ok) return;
      try {
        await api.del(api.s(`/mcp-servers/${encodeURIComponent(server.id)}`));
        ctx.toast.ok(`Deleted ${server.name}`);
        loadServers();
        loadTools();
      } catch (e) {
        ctx.toast.error(`Could not delete ${server.name}: ${e.message}`);
      }
    });
    return h(
      "li.item", { dataset: { server: server.name } },
      h("div.item-main",
        h("div.item-title", mono(server.name), badge(server.transport), server.enabled ? null : badge("disabled", "error")),
        h("p.item-meta", mono(server.url), server.header_names.length ? ` · secret headers: ${server.header_names.join(", ")}` : null),
        health),
      h("div.item-actions", check, remove),
    );
  }

  function openMcpForm() {
    if (mcpForm.firstChild) {
      mcpForm.querySelector("input")?.focus();
      return;
    }
    const name = textInput("name", { placeholder: "calc" });
    const transport = select("transport", [["streamable_http", "Streamable HTTP"], ["sse", "SSE"]], "streamable_http");
    const url = textInput("url", { placeholder: "https://mcp.example.com/mcp", inputMode: "url" });
    const headers = headersEditor("Secret headers");
    const submit = h("button.primary", { type: "submit" }, "Register");
    const form = h(
      "form.form.panel", { "aria-labelledby": "new-mcp-h", novalidate: true },
      h("h3", { id: "new-mcp-h" }, "Register MCP server"),
      h("div.grid-2",
        field("Name", name, { name: "name", required: true, hint: "Lower-case letters, digits, _ and -; its tools appear as name.tool." }),
        field("Transport", transport, { name: "transport" })),
      field("URL", url, { name: "url", required: true }),
      headers,
      h("div.actions", h("button", { type: "button", onclick: () => close() }, "Cancel"), submit),
    );
    const close = () => { mcpForm.replaceChildren(); newServer.focus(); };
    form.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      try {
        const created = await api.post(api.s("/mcp-servers"), {
          name: name.value.trim(), transport: transport.value, url: url.value.trim(), headers: headers.value(),
        });
        ctx.toast.ok(`Registered ${created.name}`);
        close();
        loadServers();
        loadTools();
      } catch (e) {
        showErrors(form, e);
        ctx.toast.error(`Could not register the server: ${e.message}`);
      } finally {
        submit.disabled = false;
      }
    });
    mcpForm.replaceChildren(form);
    name.focus();
  }
}
