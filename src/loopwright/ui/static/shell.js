// The signed-in frame: left navigation, top bar (store, role, live indicator, sign-out) and the
// main area where the router renders pages.
import { allows } from "./lib/auth.js";
import { connection } from "./lib/connection.js";
import { h } from "./lib/dom.js";

const LIVE_LABELS = {
  live: "Live",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  idle: "Idle",
};

export function buildShell({ me, store, routes, onSignOut, onShortcuts }) {
  const navLinks = routes
    .filter((r) => r.nav && allows(me.role, r.role || "readonly"))
    .map((r) => h("a.nav-link", { href: r.path, dataset: { nav: r.path } }, r.nav));
  const nav = h("nav.sidenav", { id: "sidenav", "aria-label": "Main" }, h("ul", navLinks.map((a) => h("li", a))));

  const menu = h(
    "button.icon.menu-toggle",
    { type: "button", "aria-controls": "sidenav", "aria-expanded": "false", "aria-label": "Menu" },
    "☰",
  );
  menu.addEventListener("click", () => {
    const open = document.body.classList.toggle("nav-open");
    menu.setAttribute("aria-expanded", String(open));
  });
  nav.addEventListener("click", (e) => {
    if (e.target.closest("a")) {
      document.body.classList.remove("nav-open");
      menu.setAttribute("aria-expanded", "false");
    }
  });

  const liveDot = h("span.live-dot", { "aria-hidden": "true" });
  const liveText = h("span.live-text");
  const live = h("span.live", { role: "status", title: "Event stream" }, liveDot, liveText);
  const showLive = (state) => {
    live.dataset.state = state;
    liveText.textContent = LIVE_LABELS[state] || state;
  };
  showLive(connection.state());
  connection.subscribe(showLive);

  const topbar = h(
    "header.topbar",
    menu,
    h("a.brand", { href: "/" }, "Loopwright"),
    h(
      "div.topbar-info",
      h("span.store", { title: "Store" }, h("span.sr-only", "Store "), h("code.mono", store)),
      h("span.badge.role", { title: "Your key's role" }, me.role),
      live,
    ),
    h(
      "div.topbar-actions",
      h("button.icon", { type: "button", "aria-label": "Keyboard shortcuts", title: "Keyboard shortcuts (?)", onclick: onShortcuts }, "?"),
      h("button", { type: "button", onclick: onSignOut }, "Sign out"),
    ),
  );
  const main = h("main.main", { id: "main", tabindex: "-1" });
  const skip = h("a.skip-link", { href: "#main" }, "Skip to content");
  skip.addEventListener("click", (e) => {
    e.preventDefault();
    main.focus();
  });
  const root = h("div.shell", skip, topbar, nav, main);

  function setActive(pathname) {
    for (const a of navLinks) {
      const active = pathname === a.dataset.nav || pathname.startsWith(`${a.dataset.nav}/`);
      if (active) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }
  return { root, main, setActive };
}
