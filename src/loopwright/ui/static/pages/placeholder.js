// Stands in for a page whose module is not written yet.
import { h } from "../lib/dom.js";
import { emptyState } from "../lib/states.js";

export function render(root, ctx) {
  root.append(
    h("header.page-head", h("h1", ctx.route.title)),
    emptyState("This page is not available yet.", h("a.button", { href: "/agents" }, "Go to agents")),
  );
}
