// Modal dialogs on the native <dialog>: showModal() makes the page behind inert (focus stays in
// the dialog), Esc closes it, and focus returns to what opened it.
import { h } from "./dom.js";

/** Open a modal with `content`; resolves with the value passed to `close(value)`. */
export function modal(title, build, { wide = false } = {}) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const heading = h("h2", title);
    heading.id = `dlg-${Math.random().toString(36).slice(2)}`;
    const dialog = h(`dialog.dialog${wide ? ".wide" : ""}`, { "aria-labelledby": heading.id });
    let result;
    const close = (value) => {
      result = value;
      dialog.close();
    };
    dialog.append(heading, build(close));
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.focus) opener.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector("[autofocus], input, textarea, select, button");
    if (first) first.focus();
  });
}

/** A yes/no confirmation; resolves true when confirmed. */
export function confirmDialog(title, message, { confirmLabel = "Confirm", danger = false } = {}) {
  return modal(title, (close) =>
    h(
      "div",
      h("p", message),
      h(
        "div.actions",
        h("button", { type: "button", onclick: () => close(false) }, "Cancel"),
        h(
          `button.${danger ? "danger" : "primary"}`,
          { type: "button", onclick: () => close(true), autofocus: true },
          confirmLabel,
        ),
      ),
    ),
  ).then(Boolean);
}

/** Ask for one line of text; resolves with it, or undefined when cancelled. */
export function promptDialog(title, label, value = "") {
  return modal(title, (close) => {
    const input = h("input", { type: "text", value, autofocus: true });
    input.id = `prompt-${Math.random().toString(36).slice(2)}`;
    const form = h(
      "form",
      { onsubmit: (e) => { e.preventDefault(); close(input.value); } },
      h("label", { for: input.id }, label),
      input,
      h(
        "div.actions",
        h("button", { type: "button", onclick: () => close(undefined) }, "Cancel"),
        h("button.primary", { type: "submit" }, "Save"),
      ),
    );
    return form;
  });
}
