// Boot: sign in if there is no key in this tab, else ask the server who the key is (/v1/me),
// build the shell and start the router. Pages come from pages/index.js.
import { Api } from "./lib/api.js";
import { allows, savedKey, savedStore, signOut } from "./lib/auth.js";
import { confirmDialog, modal, promptDialog } from "./lib/dialog.js";
import { h } from "./lib/dom.js";
import { Router } from "./lib/router.js";
import { installShortcuts, showShortcuts } from "./lib/shortcuts.js";
import { EventStream, highWater } from "./lib/sse.js";
import { errorState } from "./lib/states.js";
import { toast } from "./lib/toast.js";
import { home, routes } from "./pages/index.js";
import { buildShell } from "./shell.js";

const app = document.getElementById("app");

function ready() {
  app.classList.remove("boot");
  app.removeAttribute("aria-busy");
}

async function showSignIn(message) {
  const { render } = await import("./pages/signin.js");
  ready();
  app.replaceChildren();
  render(app, { message, onSignedIn: () => boot() });
}

function leave(message) {
  signOut();
  location.assign("/signin");
  if (message) sessionStorage.setItem("loopwright.signin-note", message);
}

/** Store-wide lifecycle events, shared by pages (one stream per tab). */
function storeEvents(api) {
  const listeners = new Set();
  let stream = null;
  highWater(api)
    .then((after) => {
      stream = new EventStream(api, {
        label: "store",
        after,
        query: {
          types: [
            "run.queued", "run.started", "run.completed", "run.failed", "run.cancelled",
            "run.waiting", "run.resumed", "session.created", "session.updated",
            "session.deleted", "agent.created", "agent.updated", "agent.deleted",
          ].join(","),
        },
        onEvent: (event) => listeners.forEach((fn) => fn(event)),
        onClosed: () => leave("Your key was deleted; sign in with another."),
      });
    })
    .catch(() => {});
  return {
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stop() {
      if (stream) stream.stop();
    },
  };
}

async function boot() {
  const key = savedKey();
  if (!key) {
    if (location.pathname !== "/signin") sessionStorage.setItem("loopwright.after-signin", location.pathname + location.search);
    return showSignIn(sessionStorage.getItem("loopwright.signin-note"));
  }
  if (location.pathname === "/signin") {
    history.replaceState(null, "", sessionStorage.getItem("loopwright.after-signin") || "/");
  }
  sessionStorage.removeItem("loopwright.after-signin");
  sessionStorage.removeItem("loopwright.signin-note");
  const api = new Api(key, { onUnauthenticated: () => leave("Your key is no longer valid.") });
  let me;
  try {
    me = await api.get("/v1/me");
  } catch (error) {
    if (error.status === 401) return;
    ready();
    app.replaceChildren(errorState(error, () => boot()));
    return;
  }
  const store = me.store_id || savedStore();
  if (!store) {
    signOut();
    return showSignIn("The operator key needs a store: enter its id.");
  }
  api.store = store;
  start(api, me, store);
}

function start(api, me, store) {
  const events = storeEvents(api);
  const shell = buildShell({
    me,
    store,
    routes,
    onShortcuts: () => showShortcuts(),
    onSignOut: () => {
      events.stop();
      signOut();
      location.assign("/signin");
    },
  });
  ready();
  app.replaceChildren(shell.root);

  let current = null;
  const router = new Router(routes, async (route, params) => {
    if (location.pathname === "/" || location.pathname === "/signin") return router.go(home, { replace: true });
    shell.setActive(location.pathname);
    const ctx = {
      api,
      router,
      toast,
      me,
      role: me.role,
      store,
      route,
      params,
      query: new URLSearchParams(location.search),
      events,
      can: (needed) => allows(me.role, needed),
      confirm: confirmDialog,
      prompt: promptDialog,
      modal,
    };
    const focusMain = !document.activeElement || document.activeElement === document.body || document.activeElement.closest(".sidenav, .topbar");
    if (!route) return swap(null, () => notFound(shell.main));
    if (!allows(me.role, route.role || "readonly")) return swap(null, () => forbidden(shell.main, route));
    let mod;
    try {
      mod = await route.load();
    } catch (error) {
      return swap(null, () => shell.main.append(errorState(error, () => router.render())));
    }
    if (current && current.mod === mod && mod.update && mod.update(ctx)) return shown();
    swap(mod, () => mod.render(shell.main, ctx));
    document.title = `${route.title || "Loopwright"} · Loopwright`;
    if (focusMain) shell.main.focus({ preventScroll: true });
  });

  // Which address the main area shows (its page rendered, maybe still loading its data).
  function shown() {
    shell.main.dataset.path = location.pathname;
  }

  function swap(mod, renderPage) {
    if (current && typeof current.cleanup === "function") current.cleanup();
    shell.main.replaceChildren();
    current = { mod, cleanup: renderPage() };
    shown();
  }

  installShortcuts(router);
  router.start();
}

function notFound(main) {
  main.append(h("header.page-head", h("h1", "Not found")), h("p", "There is no page at this address."), h("a.button", { href: home }, "Go to chat"));
}

function forbidden(main, route) {
  main.append(
    h("header.page-head", h("h1", route.title || "Not allowed")),
    h("p", `Your key's role may not open this page (it needs ${route.role}).`),
  );
}

boot();
