// The fields of a memory (content, type, importance, shared), shared by the Memories page's
// form and the "edit, then keep" dialog of a suggested memory (the Memories page and the chat).
import { h } from "../../lib/dom.js";
import { field } from "../../lib/forms.js";
import { select, checkbox } from "./forms.js";

export const MEMORY_TYPES = ["preference", "fact", "instruction", "episodic"];

/** The form controls for ``m`` (a memory or a suggestion; empty for a new one) and a
 *  ``value()`` that reads them as the API's fields. */
export function memoryFields(m) {
  const content = h("textarea", { name: "content", rows: 3, maxLength: 4000 }, m?.content || "");
  const type = select("type", MEMORY_TYPES.map((t) => [t, t]), m?.type || "fact");
  const importance = h("input", { type: "number", name: "importance", min: 0, max: 1, step: 0.05, value: m?.importance ?? 0.5 });
  const shared = checkbox("shared", "Shared with every agent of the store", !!m?.shared);
  return {
    nodes: [
      field("Content", content, { name: "content", required: true }),
      h("div.grid-2", field("Type", type, { name: "type" }), field("Importance (0 to 1)", importance, { name: "importance" })),
      shared.el,
    ],
    value: () => ({ content: content.value.trim(), type: type.value, importance: Number(importance.value), shared: shared.input.checked }),
  };
}
