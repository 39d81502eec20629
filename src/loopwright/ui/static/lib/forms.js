// Form fields with labels, hints and the API's 422 details shown next to the field they name.
import { h, nextId } from "./dom.js";

/**
 * A labelled field: field("Name", input, {name: "name", hint}) → wrapper. The wrapper's
 * data-field is matched against a 422 detail's loc (["body", "name"] → "name").
 */
export function field(label, control, { name, hint, required } = {}) {
  const id = control.id || nextId("f");
  control.id = id;
  if (name && !control.name) control.name = name;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", describedBy);
  if (required) control.required = true;
  return h(
    "div.field",
    { dataset: { field: name || "" } },
    h(`label${required ? ".required" : ""}`, { for: id }, label),
    control,
    hint ? h("p.hint", { id: hintId }, hint) : null,
    h("p.field-error", { id: errorId, hidden: true }),
  );
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const summary = form.querySelector(".form-error");
  if (summary) summary.remove();
}

/**
 * Put an ApiError's problems next to their fields; anything unmatched goes in a summary at the
 * top of the form. Returns the first invalid control (to focus).
 */
export function showErrors(form, error) {
  clearErrors(form);
  const unmatched = [];
  let first = null;
  const problems = error.problems || [];
  for (const p of problems) {
    const loc = p.loc.filter((x) => x !== "body" && typeof x === "string");
    const wrapper = loc.length ? form.querySelector(`.field[data-field="${CSS.escape(loc[0])}"]`) : null;
    if (!wrapper) {
      unmatched.push(`${p.loc.join(".")}: ${p.message}`);
      continue;
    }
    const msg = wrapper.querySelector(".field-error");
    msg.hidden = false;
    msg.textContent = msg.textContent ? `${msg.textContent}; ${p.message}` : p.message;
    const control = wrapper.querySelector("input, textarea, select, fieldset");
    if (control) {
      control.setAttribute("aria-invalid", "true");
      first = first || control;
    }
  }
  const detailField = error.details && !Array.isArray(error.details) ? error.details.field : null;
  if (detailField) {
    const wrapper = form.querySelector(`.field[data-field="${CSS.escape(detailField)}"]`);
    if (wrapper) {
      const msg = wrapper.querySelector(".field-error");
      msg.hidden = false;
      msg.textContent = error.message;
      first = first || wrapper.querySelector("input, textarea, select");
    }
  }
  if (!problems.length && !detailField) unmatched.push(error.message);
  if (unmatched.length) {
    form.prepend(h("div.form-error", { role: "alert" }, unmatched.map((m) => h("p", m))));
  }
  if (first) first.focus();
  return first;
}
