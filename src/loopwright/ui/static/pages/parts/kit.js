// What the Tools & MCP, Runs, Dashboard and Settings pages share, on top of the shell's pieces
// (lib/states.js, lib/forms.js, ctx.toast/confirm/modal): a race-free loader, role gating,
// JSON blocks, badges and the pages' stylesheet.
import { h, statusBadge } from "../../lib/dom.js";
import { skeleton, emptyState, errorState } from "../../lib/states.js";

export { emptyState, statusBadge };

let styled = false;
/** The pages' own stylesheet, added once (a <link>, so the CSP needs no inline styles). */
export function ensureStyles() {
  if (styled || document.querySelector("link[data-pages-css]")) return;
  styled = true;
  document.head.append(h("link", { rel: "stylesheet", href: "/ui/pages/parts/pages.css", "data-pages-css": "" }));
}

/**
 * Disable a control the key's role may not use, with a tooltip and a screen-reader note that
 * say why (like lib/dom.js `guard`, but the control itself is returned, to wire up as usual).
 */
export function gate(ctx, el, needed) {
  if (!ctx.can(needed)) {
    const reason = `needs the ${needed} role; this key is ${ctx.role}`;
    el.disabled = true;
    el.title = reason;
    el.append(h("span.sr-only", ` (${reason})`));
  }
  return el;
}

/**
 * Load into `box`: a skeleton while loading, then `show(data)`'s nodes, or the error with a
 * retry. A later call wins over an earlier one still in flight. Returns the reload function.
 */
export function loadInto(box, load, show) {
  let generation = 0;
  const run = async () => {
    const mine = ++generation;
    box.setAttribute("aria-busy", "true");
    box.replaceChildren(skeleton(3));
    try {
      const data = await load();
      if (mine !== generation) return;
      box.replaceChildren(...[show(data)].flat(Infinity).filter(Boolean));
    } catch (error) {
      if (mine !== generation || error?.name === "AbortError") return;
      box.replaceChildren(errorState(error, run));
    } finally {
      if (mine === generation) box.removeAttribute("aria-busy");
    }
  };
  run();
  return run;
}

/** Pretty JSON in a scrollable, focusable block (keyboard users can scroll it). */
export function jsonBlock(value, label = "JSON") {
  return h("pre.json", { tabIndex: 0, "aria-label": label }, JSON.stringify(value, null, 2));
}

/** A collapsible JSON block. */
export function jsonDetails(summary, value) {
  return h("details.json-details", h("summary", summary), jsonBlock(value, summary));
}

/** Parse a JSON text; [value, null] or [null, message]. */
export function parseJson(text) {
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) return [null, "must be a JSON object ({…})"];
    return [value, null];
  } catch (e) {
    return [null, `not valid JSON: ${e.message}`];
  }
}

/** A problem found before sending, shaped like the API's 422 (for lib/forms.js showErrors). */
export function localProblem(name, message) {
  return { message, details: null, problems: [{ loc: ["body", name], message }] };
}

export function badge(text, kind = "") {
  return h(`span.badge${kind ? `.badge-${kind}` : ""}`, text);
}

export async function copyText(ctx, text, what = "Copied") {
  try {
    await navigator.clipboard.writeText(text);
    ctx.toast.ok(`${what} to the clipboard`);
  } catch {
    ctx.toast.error("Copy failed: select the text and copy it by hand");
  }
}

export function pageHeader(title, ...actions) {
  return h("header.page-head", h("h1", title), actions.length ? h("div.page-actions", actions) : null);
}
