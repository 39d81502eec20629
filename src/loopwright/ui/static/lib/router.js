// A client-side router on the History API: bookmarkable URLs, a working back button, links
// that are plain <a href> elements (clicks are intercepted; modified clicks open new tabs).

function compile(path) {
  const names = [];
  const source = path.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return "([^/]+)";
  });
  return { regex: new RegExp(`^${source}/?$`), names };
}

export class Router {
  /** routes: [{path, load, ...}]; onRoute(route, params) renders it. */
  constructor(routes, onRoute) {
    this.routes = routes.map((r) => ({ ...r, ...compile(r.path) }));
    this.onRoute = onRoute;
  }

  match(pathname) {
    for (const route of this.routes) {
      const m = route.regex.exec(pathname);
      if (m) {
        const params = {};
        route.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1])));
        return { route, params };
      }
    }
    return null;
  }

  start() {
    window.addEventListener("popstate", () => this.render());
    document.addEventListener("click", (e) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = e.target.closest("a[href]");
      if (!a || a.target || a.hasAttribute("download")) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || url.pathname.startsWith("/ui/") || url.pathname === "/docs") return;
      if (!this.match(url.pathname)) return;
      e.preventDefault();
      this.go(url.pathname + url.search);
    });
    this.render();
  }

  /** Navigate to `path` (a new history entry unless replace). */
  go(path, { replace = false } = {}) {
    if (path === location.pathname + location.search && !replace) return this.render();
    history[replace ? "replaceState" : "pushState"](null, "", path);
    return this.render();
  }

  /** Change the query string (filters) without a new render or history entry. */
  setQuery(params) {
    const search = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === "") search.delete(k);
      else search.set(k, v);
    }
    const text = search.toString();
    history.replaceState(null, "", location.pathname + (text ? `?${text}` : ""));
  }

  render() {
    const found = this.match(location.pathname);
    return this.onRoute(found?.route ?? null, found?.params ?? {});
  }
}
