// Agents: a list with search and filters (kept in the URL), and the way to create one.
import { fmtTime, guard, h, mono, statusBadge } from "../lib/dom.js";
import { emptyState, load } from "../lib/states.js";

export function render(root, ctx) {
  const { api, router, query } = ctx;
  const search = h("input", { type: "search", value: query.get("q") || "", placeholder: "Search name or description", "aria-label": "Search agents" });
  const status = select("Status", "status", ["", "active", "disabled"], query.get("status"));
  const mode = select("Mode", "mode", ["", "single", "team"], query.get("mode"));
  const list = h("div");
  const newButton = guard(h("a.button.primary", { href: "/agents/new" }, "New agent"), ctx.can("admin"), "Creating agents needs the admin role");
  if (!ctx.can("admin")) newButton.firstChild.removeAttribute("href");
  root.append(
    h("header.page-head", h("h1", "Agents"), newButton),
    h("div.toolbar", { role: "search" }, search, status.label, mode.label),
    list,
  );

  const refresh = () => {
    const filters = { q: search.value.trim(), status: status.select.value, mode: mode.select.value };
    router.setQuery(filters);
    load(list, () => api.all(api.s("/agents"), filters, 500), (agents) => show(agents, filters));
  };

  function show(agents, filters) {
    if (!agents.length) {
      const filtered = filters.q || filters.status || filters.mode;
      list.append(
        filtered
          ? emptyState("No agent matches these filters.")
          : emptyState(
              "No agents yet — create one.",
              ctx.can("admin") ? h("a.button.primary", { href: "/agents/new" }, "Create an agent") : null,
            ),
      );
      return;
    }
    list.append(
      h(
        "div.table-wrap",
        h(
          "table",
          h("caption.sr-only", "Agents"),
          h(
            "thead",
            h(
              "tr",
              h("th", { scope: "col" }, "Name"),
              h("th", { scope: "col" }, "Model"),
              h("th", { scope: "col" }, "Status"),
              h("th.hide-narrow", { scope: "col" }, "Tools"),
              h("th.hide-narrow", { scope: "col" }, "Updated"),
            ),
          ),
          h(
            "tbody",
            agents.map((a) =>
              h(
                "tr",
                h("td", h("a", { href: `/agents/${encodeURIComponent(a.id)}` }, a.name), a.description ? h("div.muted.small", a.description) : null),
                h("td", mono(a.model)),
                h("td", statusBadge(a.status)),
                h("td.hide-narrow", String(a.tools.length)),
                h("td.hide-narrow", fmtTime(a.updated_at)),
              ),
            ),
          ),
        ),
      ),
    );
  }

  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
  status.select.addEventListener("change", refresh);
  mode.select.addEventListener("change", refresh);
  const off = ctx.events.subscribe((e) => {
    if (e.type.startsWith("agent.")) refresh();
  });
  refresh();
  return () => {
    clearTimeout(timer);
    off();
  };
}

function select(label, name, options, value) {
  const sel = h("select", { name }, options.map((o) => h("option", { value: o, selected: o === (value || "") }, o || "all")));
  return { select: sel, label: h("label", label, sel) };
}
