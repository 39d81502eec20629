// The three states every list has besides its data: loading, empty, and error with a retry.
import { h } from "./dom.js";

export function skeleton(rows = 4) {
  const list = h("div.skeleton", { role: "status", "aria-busy": "true", "aria-label": "Loading" });
  for (let i = 0; i < rows; i += 1) list.append(h("div.skeleton-row"));
  return list;
}

export function emptyState(message, action) {
  return h("div.empty", h("p", message), action || null);
}

export function errorState(error, retry) {
  return h(
    "div.error-state",
    { role: "alert" },
    h("p", h("strong", "Could not load. "), error?.message || String(error)),
    error?.code ? h("p.muted", h("code.mono", error.code)) : null,
    retry ? h("button", { type: "button", onclick: retry }, "Retry") : null,
  );
}

/** Load into `root`: skeleton first, then render(data) or an error with retry. */
export async function load(root, fetcher, render, { rows } = {}) {
  root.replaceChildren(skeleton(rows));
  try {
    const data = await fetcher();
    root.replaceChildren();
    render(data);
  } catch (error) {
    if (error?.name === "AbortError") return;
    root.replaceChildren(errorState(error, () => load(root, fetcher, render, { rows })));
  }
}
