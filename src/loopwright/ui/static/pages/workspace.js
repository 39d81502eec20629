// Workspace: the store's projects, tasks and documents — what the built-in tools make and
// change. A list per kind (search by words for tasks and documents, filter by project and task
// status, all in the URL) and one object's page (`/workspace/tasks/tsk_…`), where a member sets
// a task's status. The chat's chips link here. It follows the workspace events live.
import { h, fill, mono, fmtTime } from "../lib/dom.js";
import { field } from "../lib/forms.js";
import { renderMarkdown } from "../lib/markdown.js";
import { EventStream, highWater } from "../lib/sse.js";
import { ensureStyles, gate, loadInto, emptyState, badge, pageHeader } from "./parts/kit.js";
import { select, textInput } from "./parts/forms.js";

const KINDS = { projects: "Projects", tasks: "Tasks", documents: "Documents" };
const STATUSES = [["todo", "to do"], ["in_progress", "in progress"], ["done", "done"]];
const LIVE_TYPES = ["project", "task", "document"].flatMap((k) => ["created", "updated", "deleted"].map((a) => `${k}.${a}`)).join(",");
const REFRESH_MS = 500;

export function render(root, ctx) {
  ensureStyles();
  return ctx.params.id ? renderOne(root, ctx) : renderList(root, ctx);
}

function renderList(root, ctx) {
  const { api, query } = ctx;
  const kind = select("kind", Object.entries(KINDS), KINDS[query.get("kind")] ? query.get("kind") : "tasks");
  const q = textInput("q", { type: "search", placeholder: "Search words", value: query.get("q") || "" });
  const project = select("project_id", [["", "All projects"]], "");
  const status = select("status", [["", "Any status"], ...STATUSES], query.get("status") || "");
  const qField = field("Search", q, { name: "q" });
  const statusField = field("Status", status, { name: "status" });
  const filters = h("form.filters", { "aria-label": "Workspace filters" },
    field("Kind", kind, { name: "kind" }), qField, field("Project", project, { name: "project_id" }), statusField);
  const box = h("div.list-box", { id: "workspace-list" });
  fill(root, pageHeader("Workspace"), h("p.muted", "What agents made and changed with the built-in tools: projects, tasks and documents."), filters, box);

  let projects = [];
  const shape = () => {
    qField.hidden = kind.value === "projects";
    statusField.hidden = kind.value !== "tasks";
  };
  const params = () => ({
    limit: 100,
    ...(kind.value !== "projects" && q.value.trim() ? { q: q.value.trim() } : {}),
    ...(kind.value !== "projects" && project.value ? { project_id: project.value } : {}),
    ...(kind.value === "tasks" && status.value ? { status: status.value } : {}),
  });
  const opened = highWater(api).catch(() => null);
  const fetchList = async () => {
    await opened;
    projects = await api.all(api.s("/projects"));
    if (project.options.length === 1) {
      for (const p of projects) project.append(h("option", { value: p.id, selected: p.id === query.get("project_id") }, p.name));
    }
    return api.get(api.s(`/${kind.value}`), params());
  };
  const show = ({ items }) => {
    if (!items.length) return emptyState(q.value.trim() ? "Nothing matches these words." : `No ${KINDS[kind.value].toLowerCase()} yet — an agent with the workspace tools makes them.`);
    const names = Object.fromEntries(projects.map((p) => [p.id, p.name]));
    return h("ul.item-list", { "aria-label": KINDS[kind.value] }, items.map((item) => row(kind.value, item, names)));
  };
  const load = () => { shape(); loadInto(box, fetchList, show); };
  let typing = null;
  const change = () => {
    ctx.router.setQuery({ kind: kind.value, q: q.value.trim(), project_id: project.value, status: status.value });
    load();
  };
  for (const control of [kind, project, status]) control.addEventListener("change", change);
  q.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(change, 250); });
  filters.addEventListener("submit", (e) => { e.preventDefault(); change(); });
  load();
  return follow(api, opened, async () => {
    const data = await fetchList();
    if (!box.hasAttribute("aria-busy")) box.replaceChildren(...[show(data)].flat(Infinity).filter(Boolean));
  });
}

function row(kind, item, names) {
  const title = item.name || item.title;
  return h("li.item", { dataset: { object: item.id } },
    h("div.item-main",
      h("p.item-title", h("a", { href: `/workspace/${kind}/${encodeURIComponent(item.id)}` }, title), kind === "tasks" ? badge(statusLabel(item.status)) : null),
      h("p.item-meta", mono(item.id),
        item.project_id ? ` · ${names[item.project_id] || item.project_id}` : "",
        ` · updated ${fmtTime(item.updated_at)}`)));
}

function renderOne(root, ctx) {
  const { api, params } = ctx;
  const kind = KINDS[params.kind] ? params.kind : "tasks";
  const path = api.s(`/${kind}/${encodeURIComponent(params.id)}`);
  const box = h("div.list-box", { id: "workspace-object" });
  fill(root, h("p", h("a", { href: `/workspace?kind=${kind}` }, `← ${KINDS[kind]}`)), box);
  const opened = highWater(api).catch(() => null);
  const fetchOne = async () => {
    await opened;
    const item = await api.get(path);
    const project = item.project_id ? await api.get(api.s(`/projects/${encodeURIComponent(item.project_id)}`)).catch(() => null) : null;
    return { item, project };
  };
  const show = ({ item, project }) => {
    const title = item.name || item.title;
    const props = h("dl.props",
      h("dt", "Id"), h("dd", mono(item.id)),
      item.project_id !== undefined ? [h("dt", "Project"), h("dd", project ? h("a", { href: `/workspace/projects/${encodeURIComponent(project.id)}` }, project.name) : "none")] : null,
      kind === "tasks" ? [h("dt", "Status"), h("dd", statusControl(ctx, item))] : null,
      h("dt", "Created"), h("dd", fmtTime(item.created_at)),
      h("dt", "Updated"), h("dd", fmtTime(item.updated_at)));
    const body = kind === "documents" ? h("div.markdown.card", renderMarkdown(item.content))
      : item.description ? h("p", item.description) : null;
    return [h("header.page-head", h("h1", title)), h("section.card", props), body];
  };
  loadInto(box, fetchOne, show);
  return follow(api, opened, async () => {
    const data = await fetchOne().catch(() => null);
    if (data && !box.hasAttribute("aria-busy")) box.replaceChildren(...[show(data)].flat(Infinity).filter(Boolean));
  });
}

function statusControl(ctx, task) {
  const control = select("status", STATUSES, task.status);
  control.setAttribute("aria-label", "Task status");
  control.addEventListener("change", async () => {
    try {
      await ctx.api.patch(ctx.api.s(`/tasks/${encodeURIComponent(task.id)}`), { status: control.value });
      ctx.toast.ok(`Marked ${statusLabel(control.value)}`);
    } catch (err) {
      control.value = task.status;
      ctx.toast.error(err.message);
    }
  });
  return gate(ctx, control, "member");
}

function statusLabel(status) {
  return (STATUSES.find(([v]) => v === status) || [status, status])[1];
}

/** Refresh quietly on workspace events after the high-water taken before the first view. */
function follow(api, opened, refresh) {
  let stopped = false;
  let stream = null;
  let timer = null;
  opened.then((after) => {
    if (stopped || after === null) return;
    stream = new EventStream(api, {
      label: "workspace",
      after,
      query: { types: LIVE_TYPES },
      onEvent: () => {
        if (!timer) timer = setTimeout(() => { timer = null; if (!stopped) refresh().catch(() => {}); }, REFRESH_MS);
      },
    });
  });
  return () => {
    stopped = true;
    clearTimeout(timer);
    stream?.stop();
  };
}
