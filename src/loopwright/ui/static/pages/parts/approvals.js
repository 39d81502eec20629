// Tool approvals: a card per call that waits for a person (approve, edit the arguments, or
// reject with a reason the model reads), used in the chat beside the run and in the pending
// list of the Settings page. Members and admins decide; a readonly key sees the card only.
import { h, fill, mono, fmtTime } from "../../lib/dom.js";
import { clearErrors, showErrors, field } from "../../lib/forms.js";
import { gate } from "./kit.js";

/** A card for ``approval`` (as the API or ``approval.requested`` gives it); ``onDecided``
 * gets the decided approval. */
export function approvalCard(ctx, approval, { onDecided } = {}) {
  const id = approval.approval_id || approval.id;
  const card = h("section.approval-card", {
    role: "region",
    "aria-label": `Approval for ${approval.tool}`,
    dataset: { approval: id },
  });
  const args = h("textarea.mono", {
    name: "arguments",
    rows: 4,
    readOnly: true,
    value: JSON.stringify(approval.arguments ?? {}, null, 2),
  });
  const reason = h("input", { name: "reason", maxLength: 2000, placeholder: "why not (the agent reads this)" });
  const form = h("form.approval-form", { novalidate: true, "aria-label": `Decide on ${approval.tool}` },
    field("Arguments", args, { name: "arguments" }),
    field("Reason (for a rejection)", reason, { name: "reason" }));
  const approve = gate(ctx, h("button.primary", { type: "button" }, "Approve"), "member");
  const edit = gate(ctx, h("button", { type: "button" }, "Edit"), "member");
  const reject = gate(ctx, h("button.danger", { type: "button" }, "Reject"), "member");
  const state = h("p.approval-state", { "aria-live": "polite" });
  const expires = approval.expires_at ? ` · expires ${fmtTime(approval.expires_at)}` : "";
  fill(card,
    h("h3", "Approve ", mono(approval.tool), "?"),
    h("p.muted", `The agent wants to call this tool${expires}. It does not run until someone decides.`),
    form,
    h("div.actions", approve, edit, reject),
    state);

  edit.addEventListener("click", () => {
    args.readOnly = false;
    args.focus();
  });

  async function decide(kind) {
    clearErrors(form);
    const body = {};
    if (kind === "approve" && !args.readOnly) {
      try {
        body.arguments = JSON.parse(args.value);
      } catch {
        showErrors(form, { problems: [{ loc: ["body", "arguments"], message: "not valid JSON" }], message: "The arguments are not valid JSON" });
        return;
      }
    }
    if (kind === "reject") body.reason = reason.value.trim();
    try {
      const decided = await ctx.api.post(ctx.api.s(`/approvals/${encodeURIComponent(id)}/${kind}`), body);
      decidedState(card, decided);
      ctx.toast.ok(kind === "approve" ? `Approved ${approval.tool}` : `Rejected ${approval.tool}`);
      onDecided?.(decided);
    } catch (e) {
      showErrors(form, e);
      ctx.toast.error(`Could not ${kind}: ${e.message}`);
    }
  }
  approve.addEventListener("click", () => decide("approve"));
  reject.addEventListener("click", () => decide("reject"));
  if (approval.status && approval.status !== "pending") decidedState(card, approval);
  return card;
}

/** Show a decision on a card (from the API or an ``approval.decided`` event). */
export function decidedState(card, decided) {
  const status = decided.status || decided.decision;
  card.dataset.status = status;
  for (const control of card.querySelectorAll("button, textarea, input")) control.disabled = true;
  const by = decided.decided_by ? ` by ${decided.decided_by}` : "";
  const why = decided.reason ? `: ${decided.reason}` : "";
  fill(card.querySelector(".approval-state"), `${status[0].toUpperCase()}${status.slice(1)}${by}${why}`);
}
