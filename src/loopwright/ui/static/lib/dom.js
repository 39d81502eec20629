// Tiny DOM helpers. Text always goes in as text nodes (never parsed as HTML): untrusted strings
// from the API are safe to pass anywhere here.

/** h("button.primary", {onclick, type: "button"}, "Save") → an element. */
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = [el.className, value].filter(Boolean).join(" ");
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replace an element's children. */
export function fill(el, ...children) {
  clear(el);
  return append(el, children);
}

/** An id in monospace with a button-free copy on select. */
export function mono(text) {
  return h("code.mono", String(text ?? ""));
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

let uid = 0;
export function nextId(prefix = "lw") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * An action the role may not take: the control is disabled and a tooltip (and a screen-reader
 * note) says why. Returns what to insert in place of the control.
 */
export function guard(control, allowed, reason) {
  if (allowed) return control;
  control.disabled = true;
  const note = h("span.sr-only", ` (${reason})`);
  control.append(note);
  return h("span.guarded", { title: reason }, control);
}

export function statusBadge(status) {
  return h(`span.status.status-${String(status).replace(/[^a-z_]/g, "")}`, String(status));
}
