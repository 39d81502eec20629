// A suggested memory in the chat (memory.suggested, or a pending suggestion of the session on
// load): a small note under the reflection run with Keep, Edit (then keep) and Discard, as the
// Memories page's review queue decides them. Members and up decide; others see the note.
import { h, fill } from "../../lib/dom.js";
import { clearErrors, showErrors } from "../../lib/forms.js";
import { gate } from "./kit.js";
import { memoryFields } from "./memory-form.js";

/** ``s``: a suggestion as ``GET /memory-suggestions`` or ``memory.suggested`` gives it. */
export function suggestionNote(ctx, s) {
  const id = s.suggestion_id || s.id;
  const note = h("aside.suggestion-note", { dataset: { suggestion: id }, "aria-label": "Suggested memory" });
  const keep = gate(ctx, h("button.small.primary", { type: "button" }, "Keep"), "member");
  const edit = gate(ctx, h("button.small", { type: "button" }, "Edit"), "member");
  const discard = gate(ctx, h("button.small", { type: "button" }, "Discard"), "member");
  const state = h("p.suggestion-state", { "aria-live": "polite" });
  const relation = s.relation === "duplicate" ? "Repeats a memory; keeping it replaces that one."
    : s.relation === "contradiction" ? "Contradicts a memory; keeping it replaces that one." : null;
  fill(note,
    h("p.suggestion-head", h("span.badge", s.type), " Suggested memory"),
    h("p.suggestion-content", s.content),
    s.reason ? h("p.muted.small", s.reason) : null,
    relation ? h("p.warn.small", relation) : null,
    h("div.actions", keep, edit, discard),
    state);

  const decided = (text, status) => {
    note.dataset.status = status;
    for (const b of note.querySelectorAll("button")) b.disabled = true;
    fill(state, text);
  };
  const decide = async (action, body = {}) => {
    try {
      const out = await ctx.api.post(ctx.api.s(`/memory-suggestions/${encodeURIComponent(id)}/${action}`), body);
      decided(action === "approve" ? "Kept as a memory" : "Discarded", action === "approve" ? "approved" : "rejected");
      ctx.toast.ok(action === "approve" ? "Saved as a memory" : "Suggestion discarded");
      return out;
    } catch (err) {
      ctx.toast.error(`Could not ${action === "approve" ? "keep" : "discard"} it: ${err.message}`);
      throw err;
    }
  };
  keep.addEventListener("click", () => decide("approve").catch(() => {}));
  discard.addEventListener("click", () => decide("reject").catch(() => {}));
  edit.addEventListener("click", () => {
    ctx.modal("Edit the suggested memory", (close) => {
      const fields = memoryFields(s);
      const form = h("form.form", { novalidate: true }, ...fields.nodes,
        h("div.actions", h("button", { type: "button", onclick: () => close() }, "Cancel"), h("button.primary", { type: "submit" }, "Keep")));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        clearErrors(form);
        try {
          await decide("approve", fields.value());
          close();
        } catch (err) {
          showErrors(form, err);
        }
      });
      return form;
    });
  });
  if (s.status && s.status !== "pending") decided(s.status === "approved" ? "Kept as a memory" : "Discarded", s.status);
  return note;
}
