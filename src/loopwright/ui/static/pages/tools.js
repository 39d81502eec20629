// Tools & MCP: every tool of the store (built-in, HTTP, MCP) with its schema; HTTP tools to
// create and delete; MCP servers to register, check and delete; any tool tested with arguments.
import { h, fill, mono, fmtDuration } from "../lib/dom.js";
import {
  ensureStyles, can, gate, toast, loadInto, emptyState, confirmDialog, field, showFormError,
  clearFormError, jsonDetails, jsonBlock, parseJson, badge, pageHeader,
} from "./parts/kit.js";
import { headersEditor, textInput, select, checkbox, jsonArea } from "./parts/forms.js";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

export function render(root, ctx) {
  ensureStyles();
  const { api } = ctx;
  const toolsBox = h("div.list-box", { id: "tools-list" });
  const mcpBox = h("div.list-box", { id: "mcp-list" });
  const toolForm = h("div.panel-slot");
  const mcpForm = h("div.panel-slot");

  const reloadTools = () => loadTools();
  const newTool = gate(ctx, h("button.btn.primary", { type: "button", onclick: () => openToolForm() }, "New HTTP tool"), "admin");
  const newServer = gate(ctx, h("button.btn.primary", { type: "button", onclick: () => openMcpForm() }, "Register MCP server"), "admin");

  fill(
    root,
    pageHeader("Tools & MCP"),
    h("section.card", { "aria-labelledby": "tools-h" },
      h("div.section-head", h("h2", { id: "tools-h" }, "Tools"), newTool),
      toolForm,
      toolsBox),
    h("section.card", { "aria-labelledby": "mcp-h" },
      h("div.section-head", h("h2", { id: "mcp-h" }, "MCP servers"), newServer),
      mcpForm,
      mcpBox),
  );

  // -- tools --------------------------------------------------------------------------------
  let loadTools = () => {};
  loadTools = loadInto(toolsBox, () => api.get(api.s("/tools")), ({ items }) => {
    if (!items.length) {
      return emptyState("No tools yet — create an HTTP tool or register an MCP server.", can(ctx, "admin") ? h("button.btn", { type: "button", onclick: () => openToolForm() }, "New HTTP tool") : null);
    }
    return h("ul.item-list", { "aria-label": "Tools" }, items.map((tool) => toolItem(tool)));
  });

  function toolItem(tool) {
    const actions = h("div.item-actions");
    actions.append(gate(ctx, h("button.btn.small", { type: "button", onclick: () => testTool(tool), "aria-label": `Test ${tool.name}` }, "Test"), "admin"));
    if (tool.kind === "http") {
      actions.append(gate(ctx, h("button.btn.small.danger", { type: "button", onclick: () => deleteTool(tool), "aria-label": `Delete ${tool.name}` }, "Delete"), "admin"));
    }
    return h(
      "li.item", { dataset: { tool: tool.name } },
      h("div.item-main",
        h("div.item-title", mono(tool.name), badge(tool.kind, tool.kind), tool.read_only ? badge("read-only", "ro") : badge("read-write", "rw")),
        tool.description ? h("p.item-desc", tool.description) : null,
        tool.http ? h("p.item-meta", h("span", tool.http.method), " ", mono(tool.http.url),
          tool.http.header_names.length ? h("span", ` · secret headers: ${tool.http.header_names.join(", ")}`) : null) : null,
        jsonDetails("Parameters schema", tool.parameters)),
      actions,
    );
  }

  async function deleteTool(tool) {
    const ok = await confirmDialog({ title: `Delete ${tool.name}?`, body: "Agents that use it will no longer be offered it.", confirm: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.del(api.s(`/tools/${encodeURIComponent(tool.name)}`));
      toast(ctx, `Deleted ${tool.name}`, "success");
      reloadTools();
    } catch (e) {
      toast(ctx, `Could not delete ${tool.name}: ${e.message}`, "error");
    }
  }

  function openToolForm() {
    if (toolForm.firstChild) {
      toolForm.querySelector("input")?.focus();
      return;
    }
    const name = textInput("name", { required: true, placeholder: "lookup_order" });
    const description = h("textarea", { name: "description", rows: 2, required: true });
    const url = textInput("url", { required: true, placeholder: "https://api.example.com/orders/{order_id}", inputMode: "url" });
    const method = select("method", METHODS.map((m) => [m, m]), "POST");
    const parameters = jsonArea("parameters", { type: "object", properties: {}, required: [] }, 7);
    const headers = headersEditor("Secret headers");
    const readOnly = checkbox("read_only", "Read-only (the tool changes nothing)");
    const form = h(
      "form.panel", { "aria-label": "New HTTP tool", novalidate: true },
      h("h3", "New HTTP tool"),
      field("Name", name, "Letters, digits, _ and -; unique in the store."),
      field("Description", description, "What the model reads to decide when to call it."),
      field("URL template", url, "Use {param} placeholders for parameters."),
      field("Method", method),
      field("Parameters (JSON Schema)", parameters, "An object schema; each {placeholder} must be one of its properties."),
      headers,
      readOnly.el,
      h("p.form-error", { role: "alert" }),
      h("div.form-actions",
        h("button.btn.primary", { type: "submit" }, "Create tool"),
        h("button.btn", { type: "button", onclick: () => close() }, "Cancel")),
    );
    const close = () => { fill(toolForm); newTool.focus(); };
    form.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormError(form);
      const [schema, problem] = parseJson(parameters.value);
      if (problem) {
        showFormError(form, { message: "Fix the parameters", details: [{ loc: ["body", "parameters"], message: problem }] });
        return;
      }
      const body = {
        name: name.value.trim(),
        description: description.value.trim(),
        url: url.value.trim(),
        method: method.value,
        parameters: schema,
        headers: headers.value(),
        read_only: readOnly.input.checked,
      };
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      try {
        const created = await api.post(api.s("/tools"), body);
        toast(ctx, `Created ${created.name}`, "success");
        close();
        reloadTools();
      } catch (e) {
        showFormError(form, e);
        toast(ctx, `Could not create the tool: ${e.message}`, "error");
      } finally {
        submit.disabled = false;
      }
    });
    fill(toolForm, form);
    name.focus();
  }

  function exampleArguments(schema) {
    const out = {};
    for (const [key, prop] of Object.entries(schema?.properties || {})) {
      const t = Array.isArray(prop?.type) ? prop.type[0] : prop?.type;
      out[key] = prop?.default ?? (t === "integer" || t === "number" ? 0 : t === "boolean" ? false : t === "array" ? [] : t === "object" ? {} : "");
    }
    return out;
  }

  function testTool(tool) {
    const opener = document.activeElement;
    const args = jsonArea("arguments", exampleArguments(tool.parameters), 8);
    const result = h("div.test-result", { "aria-live": "polite" });
    const run = h("button.btn.primary", { type: "submit" }, "Run");
    const form = h(
      "form", { novalidate: true },
      field("Arguments (JSON)", args, "Checked against the tool's schema before it runs."),
      h("p.form-error", { role: "alert" }),
      h("div.form-actions", run, h("button.btn", { type: "button", onclick: () => dialog.close() }, "Close")),
      result,
    );
    const dialog = h("dialog.dialog.wide", { "aria-label": `Test ${tool.name}` },
      h("h2", "Test ", mono(tool.name)),
      tool.read_only ? null : h("p.warn", "This tool is read-write: running it may change things."),
      form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormError(form);
      const [value, problem] = parseJson(args.value);
      if (problem) {
        showFormError(form, { details: [{ loc: ["body", "arguments"], message: problem }] });
        return;
      }
      run.disabled = true;
      fill(result, h("p.muted", "Running…"));
      try {
        const out = await api.post(api.s(`/tools/${encodeURIComponent(tool.name)}/test`), { arguments: value });
        fill(result,
          h("p.test-outcome", out.ok ? badge("ok", "ok") : badge("error", "error"), ` in ${fmtDuration(out.duration_ms)}`),
          jsonBlock(out.result, "Result"));
        toast(ctx, `${tool.name}: ${out.ok ? "ok" : "error"} in ${fmtDuration(out.duration_ms)}`, out.ok ? "success" : "error");
      } catch (e) {
        fill(result);
        if (e.status === 422 && e.details && !Array.isArray(e.details) && e.details.problems) {
          showFormError(form, { message: e.message, details: [{ loc: ["arguments"], message: [].concat(e.details.problems).join("; ") }] });
        } else {
          showFormError(form, e);
        }
      } finally {
        run.disabled = false;
      }
    });
    dialog.addEventListener("close", () => { dialog.remove(); opener?.focus?.(); });
    document.body.append(dialog);
    dialog.showModal();
    args.focus();
  }

  // -- MCP servers ------------------------------------------------------------------------------
  let loadServers = () => {};
  loadServers = loadInto(mcpBox, () => api.get(api.s("/mcp-servers")), ({ items }) => {
    if (!items.length) {
      return emptyState("No MCP servers yet — register one to give agents its tools.", can(ctx, "admin") ? h("button.btn", { type: "button", onclick: () => openMcpForm() }, "Register MCP server") : null);
    }
    return h("ul.item-list", { "aria-label": "MCP servers" }, items.map((server) => serverItem(server)));
  });

  function serverItem(server) {
    const health = h("div.health", { "aria-live": "polite" });
    const check = gate(ctx, h("button.btn.small", { type: "button", "aria-label": `Check health of ${server.name}` }, "Check health"), "admin");
    check.addEventListener("click", async () => {
      check.disabled = true;
      fill(health, h("p.muted", "Checking…"));
      try {
        const out = await api.post(api.s(`/mcp-servers/${encodeURIComponent(server.id)}/health`));
        fill(health,
          h("p.health-status", out.ok ? badge("healthy", "ok") : badge("unhealthy", "error"), ` ${fmtDuration(out.latency_ms)}`,
            out.ok ? ` · ${out.tools.length} tool${out.tools.length === 1 ? "" : "s"}` : null),
          out.error ? h("p.error-text", out.error) : null,
          out.tools.length ? h("ul.chips", { "aria-label": `Tools of ${server.name}` }, out.tools.map((t) => h("li", mono(t)))) : null);
        toast(ctx, `${server.name}: ${out.ok ? "healthy" : "unhealthy"}`, out.ok ? "success" : "error");
        if (out.ok) reloadTools();
      } catch (e) {
        fill(health, h("p.error-text", e.message));
        toast(ctx, `Health check failed: ${e.message}`, "error");
      } finally {
        check.disabled = !can(ctx, "admin");
      }
    });
    const remove = gate(ctx, h("button.btn.small.danger", { type: "button", "aria-label": `Delete ${server.name}` }, "Delete"), "admin");
    remove.addEventListener("click", async () => {
      const ok = await confirmDialog({ title: `Delete ${server.name}?`, body: "Its tools disappear from every agent.", confirm: "Delete", danger: true });
      if (!ok) return;
      try {
        await api.del(api.s(`/mcp-servers/${encodeURIComponent(server.id)}`));
        toast(ctx, `Deleted ${server.name}`, "success");
        loadServers();
        reloadTools();
      } catch (e) {
        toast(ctx, `Could not delete ${server.name}: ${e.message}`, "error");
      }
    });
    return h(
      "li.item", { dataset: { server: server.name } },
      h("div.item-main",
        h("div.item-title", mono(server.name), badge(server.transport), server.enabled ? null : badge("disabled", "error")),
        h("p.item-meta", mono(server.url), server.header_names.length ? h("span", ` · secret headers: ${server.header_names.join(", ")}`) : null),
        health),
      h("div.item-actions", check, remove),
    );
  }

  function openMcpForm() {
    if (mcpForm.firstChild) {
      mcpForm.querySelector("input")?.focus();
      return;
    }
    const name = textInput("name", { required: true, placeholder: "calc" });
    const transport = select("transport", [["streamable_http", "Streamable HTTP"], ["sse", "SSE"]], "streamable_http");
    const url = textInput("url", { required: true, placeholder: "https://mcp.example.com/mcp", inputMode: "url" });
    const headers = headersEditor("Secret headers");
    const form = h(
      "form.panel", { "aria-label": "Register MCP server", novalidate: true },
      h("h3", "Register MCP server"),
      field("Name", name, "Lower-case letters, digits, _ and -; its tools appear as name.tool."),
      field("Transport", transport),
      field("URL", url),
      headers,
      h("p.form-error", { role: "alert" }),
      h("div.form-actions",
        h("button.btn.primary", { type: "submit" }, "Register"),
        h("button.btn", { type: "button", onclick: () => close() }, "Cancel")),
    );
    const close = () => { fill(mcpForm); newServer.focus(); };
    form.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormError(form);
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      try {
        const created = await api.post(api.s("/mcp-servers"), {
          name: name.value.trim(), transport: transport.value, url: url.value.trim(), headers: headers.value(),
        });
        toast(ctx, `Registered ${created.name}`, "success");
        close();
        loadServers();
        reloadTools();
      } catch (e) {
        showFormError(form, e);
        toast(ctx, `Could not register the server: ${e.message}`, "error");
      } finally {
        submit.disabled = false;
      }
    });
    fill(mcpForm, form);
    name.focus();
  }
}
