// The page registry: one line per route. A page module exports
//   render(root, ctx) → optional cleanup function (called when the page is left)
// and optionally update(ctx) → true when it handled a change of params in place.
// `nav` puts the route in the left navigation; `role` is the least role that may open it
// (readonly < member < admin < operator); `title` names the browser tab. See docs/ui.md.

const placeholder = () => import("./placeholder.js");

export const routes = [
  { path: "/agents", load: () => import("./agents.js"), nav: "Agents", title: "Agents" },
  { path: "/agents/new", load: () => import("./agent-edit.js"), role: "admin", title: "New agent" },
  { path: "/agents/:id", load: () => import("./agent-detail.js"), title: "Agent" },
  { path: "/agents/:id/edit", load: () => import("./agent-edit.js"), role: "admin", title: "Edit agent" },
  { path: "/chat", load: () => import("./chat.js"), nav: "Chat", title: "Chat" },
  { path: "/chat/:session", load: () => import("./chat.js"), title: "Chat" },
  { path: "/runs", load: () => import("./runs.js"), nav: "Runs", title: "Runs" },
  { path: "/runs/:id", load: () => import("./runs.js"), title: "Run" },
  { path: "/memories", load: () => import("./memories.js"), nav: "Memories", title: "Memories" },
  { path: "/workspace", load: () => import("./workspace.js"), nav: "Workspace", title: "Workspace" },
  { path: "/workspace/:kind/:id", load: () => import("./workspace.js"), title: "Workspace" },
  { path: "/schedules", load: () => import("./schedules.js"), nav: "Schedules", title: "Schedules" },
  { path: "/webhooks", load: () => import("./webhooks.js"), nav: "Webhooks", title: "Webhooks" },
  { path: "/approvals", load: () => import("./approvals.js"), nav: "Approvals", title: "Approvals" },
  { path: "/tools", load: () => import("./tools.js"), nav: "Tools & MCP", title: "Tools & MCP" },
  { path: "/dashboard", load: () => import("./dashboard.js"), nav: "Dashboard", title: "Dashboard" },
  { path: "/settings", load: () => import("./settings.js"), nav: "Settings", role: "admin", title: "Settings" },
  { path: "/operator", load: () => import("./operator.js"), nav: "Operator", role: "operator", title: "Operator" },
];

/** Where "/" leads. */
export const home = "/chat";
