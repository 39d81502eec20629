// What the Tools, Runs, Dashboard and Settings pages share: list states (loading, empty, error
// with retry), confirmation dialogs, 422 details next to form fields, role gating, JSON blocks.
import { h, fill, nextId } from "../../lib/dom.js";
import { allows } from "../../lib/auth.js";

let styled = false;
/** The pages' own stylesheet, added once (a <link>, so the CSP needs no inline styles). */
export function ensureStyles() {
  if (styled || document.querySelector('link[data-pages-css]')) return;
  styled = true;
  document.head.append(h("link", { rel: "stylesheet", href: "/ui/pages/parts/pages.css", "data-pages-css": "" }));
}

export function role(ctx) {
  return ctx.me?.role ?? "readonly";
}

export function can(ctx, needed) {
  return allows(role(ctx), needed);
}

/** Disable a control the key's role may not use, with a tooltip that says why. */
export function gate(ctx, el, needed) {
  if (!can(ctx, needed)) {
    el.disabled = true;
    el.title = `Needs the ${needed} role (this key is ${role(ctx)})`;
    el.setAttribute("aria-disabled", "true");
  }
  return el;
}

export function toast(ctx, text, kind = "info") {
  if (typeof ctx.toast === "function") return ctx.toast(text, kind);
  const box = document.getElementById("toasts");
  if (!box) return undefined;
  const el = h(`div.toast.toast-${kind}`, { role: kind === "error" ? "alert" : "status" }, text);
  box.append(el);
  setTimeout(() => el.remove(), 6000);
  return el;
}

export function skeleton(rows = 3) {
  return h(
    "div.state.state-loading",
    { role: "status", "aria-live": "polite" },
    h("span.visually-hidden", "Loading…"),
    Array.from({ length: rows }, () => h("div.skeleton-row", { "aria-hidden": "true" })),
  );
}

export function emptyState(text, action) {
  return h("div.state.state-empty", h("p", text), action || null);
}

export function errorState(error, retry) {
  return h(
    "div.state.state-error",
    { role: "alert" },
    h("p", h("strong", "Could not load: "), error?.message || String(error)),
    error?.code ? h("p.muted", h("code.mono", error.code)) : null,
    retry ? h("button.btn", { type: "button", onclick: retry }, "Retry") : null,
  );
}

/**
 * Load into `box`: a skeleton while loading, then `show(data)`, or the error with a retry.
 * Returns a function that loads again.
 */
export function loadInto(box, load, show) {
  let generation = 0;
  const run = async () => {
    const mine = ++generation;
    box.setAttribute("aria-busy", "true");
    fill(box, skeleton());
    try {
      const data = await load();
      if (mine !== generation) return;
      fill(box, show(data));
    } catch (error) {
      if (mine !== generation || error?.name === "AbortError") return;
      fill(box, errorState(error, run));
    } finally {
      if (mine === generation) box.removeAttribute("aria-busy");
    }
  };
  run();
  return run;
}

/** A modal <dialog>; resolves true when confirmed. Focus moves in and back; Esc cancels. */
export function confirmDialog({ title, body, confirm = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = nextId("dlg");
    const dialog = h(
      "dialog.dialog",
      { "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      body ? h("p", body) : null,
      h(
        "div.dialog-actions",
        h("button.btn", { type: "button", onclick: () => dialog.close("cancel") }, "Cancel"),
        h(`button.btn.${danger ? "danger" : "primary"}`, { type: "button", onclick: () => dialog.close("ok") }, confirm),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && typeof opener.focus === "function") opener.focus();
      resolve(dialog.returnValue === "ok");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A labelled field; `control` gets an id, and an error slot follows it. */
export function field(labelText, control, hint) {
  const id = control.id || nextId("f");
  control.id = id;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  return h(
    "div.field",
    { dataset: { field: control.name || "" } },
    h("label", { for: id }, labelText),
    control,
    hint ? h("p.hint", { id: hintId }, hint) : null,
    h("p.field-error", { id: errorId, role: "alert" }),
  );
}

/**
 * Show an API error on a form: each 422 problem next to the field its `loc` names (the last
 * name in `loc` that is a field of the form), the rest in the form's general error slot.
 */
export function showFormError(form, error) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  const general = [];
  const problems = Array.isArray(error?.details) ? error.details : [];
  for (const p of problems) {
    const names = (p.loc || []).filter((x) => typeof x === "string");
    const target = names.reverse().map((n) => form.querySelector(`.field[data-field="${CSS.escape(n)}"]`)).find(Boolean);
    if (target) {
      target.querySelector(".field-error").textContent = p.message || p.msg || "invalid";
      target.querySelector("input,select,textarea")?.setAttribute("aria-invalid", "true");
    } else {
      general.push(p.message || p.msg || JSON.stringify(p));
    }
  }
  if (!problems.length && error?.details && typeof error.details === "object" && error.details.field) {
    const target = form.querySelector(`.field[data-field="${CSS.escape(error.details.field)}"]`);
    if (target) {
      target.querySelector(".field-error").textContent = error.message;
      target.querySelector("input,select,textarea")?.setAttribute("aria-invalid", "true");
      return;
    }
  }
  const slot = form.querySelector(".form-error");
  if (slot) slot.textContent = [error?.message, ...general].filter(Boolean).join(" — ");
  form.querySelector("[aria-invalid='true']")?.focus();
}

export function clearFormError(form) {
  for (const slot of form.querySelectorAll(".field-error, .form-error")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** Pretty JSON in a scrollable, focusable block (keyboard users can scroll it). */
export function jsonBlock(value, label = "JSON") {
  return h("pre.json", { tabIndex: 0, "aria-label": label }, JSON.stringify(value, null, 2));
}

/** A collapsible JSON block. */
export function jsonDetails(summary, value) {
  return h("details.json-details", h("summary", summary), jsonBlock(value, summary));
}

/** Parse a JSON textarea's value; returns [value, null] or [null, message]. */
export function parseJson(text, { object = true } = {}) {
  try {
    const value = JSON.parse(text);
    if (object && (value === null || typeof value !== "object" || Array.isArray(value))) {
      return [null, "must be a JSON object ({…})"];
    }
    return [value, null];
  } catch (e) {
    return [null, `not valid JSON: ${e.message}`];
  }
}

export function badge(text, kind = "") {
  return h(`span.badge${kind ? `.badge-${kind}` : ""}`, text);
}

/** A run status: colour and the word (colour is never the only signal). */
export function statusBadge(status) {
  return h(`span.status.status-${status}`, status);
}

export async function copyText(ctx, text, what = "Copied") {
  try {
    await navigator.clipboard.writeText(text);
    toast(ctx, `${what} to the clipboard`, "success");
  } catch {
    toast(ctx, "Copy failed: select the text and copy it by hand", "error");
  }
}

export function pageHeader(title, ...actions) {
  return h("header.page-head", h("h1", title), actions.length ? h("div.page-actions", actions) : null);
}
