// Form pieces shared by the Tools & MCP and Settings pages (labels and 422 details come from
// the shell's lib/forms.js).
import { h, nextId } from "../../lib/dom.js";

/** Rows of secret headers (name + password-type value) with add/remove; `.value()` → object. */
export function headersEditor(legend) {
  const rows = h("div.header-rows");
  const list = [];
  let count = 0;
  const addButton = h("button.small", { type: "button" }, "Add header");
  const add = () => {
    count += 1;
    const n = count;
    const name = h("input", { type: "text", autocomplete: "off", spellcheck: false, "aria-label": `Header ${n} name`, placeholder: "Authorization" });
    const value = h("input", { type: "password", autocomplete: "new-password", "aria-label": `Header ${n} value`, placeholder: "value" });
    const row = h("div.header-row", name, value);
    const entry = { name, value, row };
    row.append(h("button.small", {
      type: "button",
      "aria-label": `Remove header ${n}`,
      onclick: () => {
        list.splice(list.indexOf(entry), 1);
        row.remove();
        addButton.focus();
      },
    }, "Remove"));
    list.push(entry);
    rows.append(row);
    name.focus();
  };
  addButton.addEventListener("click", add);
  const hintId = nextId("hdr");
  const fieldset = h(
    "fieldset.field.headers",
    { dataset: { field: "headers" }, "aria-describedby": hintId },
    h("legend", legend),
    h("p.hint", { id: hintId }, "Header values are encrypted at rest and never shown again — keep your own copy."),
    rows,
    h("div", addButton),
    h("p.field-error", { hidden: true }),
  );
  fieldset.value = () => {
    const out = {};
    for (const { name, value } of list) {
      if (name.value.trim()) out[name.value.trim()] = value.value;
    }
    return out;
  };
  return fieldset;
}

export function textInput(name, attrs = {}) {
  return h("input", { type: "text", name, autocomplete: "off", spellcheck: false, ...attrs });
}

export function select(name, options, value) {
  return h("select", { name }, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

/** A checkbox with its label beside it; the wrapper carries data-field for 422 details. */
export function checkbox(name, labelText, checked = false) {
  const id = nextId("cb");
  const input = h("input", { type: "checkbox", name, id, checked });
  return { input, el: h("div.field.check", { dataset: { field: name } }, h("label", input, " ", labelText), h("p.field-error", { hidden: true })) };
}

export function jsonArea(name, value, rows = 6) {
  return h("textarea.mono", { name, rows, spellcheck: false, autocomplete: "off" }, JSON.stringify(value, null, 2));
}
