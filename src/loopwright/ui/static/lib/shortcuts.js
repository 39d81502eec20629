// Keyboard shortcuts: "?" lists them; "g" then a letter goes to a page; "/" focuses search.
import { h } from "./dom.js";
import { modal } from "./dialog.js";

const GOTO = { a: "/agents", c: "/chat", r: "/runs", t: "/tools", d: "/dashboard", s: "/settings" };

export const SHORTCUTS = [
  ["?", "Show this list"],
  ["g a / g c / g r / g t / g d / g s", "Go to Agents, Chat, Runs, Tools, Dashboard, Settings"],
  ["/", "Focus the page's search box"],
  ["Enter", "Send the message (chat)"],
  ["Shift+Enter", "New line in the message (chat)"],
  ["Esc", "Close a dialog"],
];

export function showShortcuts() {
  return modal("Keyboard shortcuts", (close) =>
    h(
      "div",
      h(
        "table.shortcuts",
        h("thead", h("tr", h("th", { scope: "col" }, "Keys"), h("th", { scope: "col" }, "Action"))),
        h("tbody", SHORTCUTS.map(([k, v]) => h("tr", h("td", h("kbd", k)), h("td", v)))),
      ),
      h("div.actions", h("button.primary", { type: "button", onclick: () => close() }, "Close")),
    ),
  );
}

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable='true'], dialog");
}

export function installShortcuts(router) {
  let pendingG = false;
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (e.key === "?") {
      e.preventDefault();
      showShortcuts();
    } else if (e.key === "/") {
      const search = document.querySelector("main [type=search]");
      if (search) {
        e.preventDefault();
        search.focus();
      }
    } else if (pendingG && GOTO[e.key]) {
      router.go(GOTO[e.key]);
      pendingG = false;
    } else {
      pendingG = e.key === "g";
    }
  });
}
