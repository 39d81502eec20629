// The conversation of one chat session, built from stored messages (history) and live events.
// Everything a run produced sits in that run's block (its user message, a status line, reasoning,
// the assistant's bubbles, tool cards), so a message sent while another run streams does not
// interleave with it. Each thing is keyed by its id (message id, call id), so an event about
// something already shown updates it instead of showing it twice. Text is set as text; only
// final assistant answers are rendered as sanitized markdown.
import { fill, fmtDuration, h, mono } from "./dom.js";
import { FrameBatcher } from "./frames.js";
import { renderMarkdown } from "./markdown.js";

const ACTIVE = new Set(["queued", "running", "waiting"]);
const DOMAIN = /^(task|project|document)\.(created|updated|deleted)$/;
const RESULT_PREVIEW = 600;

export class Conversation {
  /**
   * @param list      the element the run blocks go in (inside the scroller)
   * @param options   {readOnlyTools: Map name→bool, maxSteps, announce(text), onScroll(),
   *                   onRunState(run)}
   */
  constructor(list, options) {
    this.list = list;
    this.opts = options;
    this.blocks = new Map(); // run_id → block element
    this.runs = new Map(); // run_id → run state
    this.seenMessages = new Set();
    this.cards = new Map(); // call_id → card
    this.results = new Map(); // call_id → {ok, result, duration_ms?} seen before their card
    this.streams = new Map(); // `${run}:${step}:text|reasoning` → {el, text}
    this.unplaced = new Map(); // run_id → domain events waiting for their call's tool.completed
    this.chipped = new Set(); // seqs of the domain events shown as chips
    this.batcher = new FrameBatcher(() => options.onScroll && options.onScroll());
  }

  // -- structure --------------------------------------------------------------------------------

  block(runId, { prepend = false } = {}) {
    const key = runId || "none";
    let block = this.blocks.get(key);
    if (!block) {
      block = h("section.run-block", { dataset: { run: key }, "aria-label": "Exchange" });
      if (prepend) this.list.prepend(block);
      else this.list.append(block);
      this.blocks.set(key, block);
    }
    return block;
  }

  run(runId) {
    let run = this.runs.get(runId);
    if (!run) {
      run = { id: runId, status: null, step: 0, usage: null, stopReason: null, error: null, line: null, startedAt: null, finishedAt: null, note: null };
      this.runs.set(runId, run);
    }
    return run;
  }

  statusLine(runId) {
    const run = this.run(runId);
    if (!run.line) {
      run.line = h("p.run-status", { dataset: { run: runId } });
      const block = this.block(runId);
      const user = block.querySelector(":scope > .msg-user");
      if (user) user.after(run.line);
      else block.prepend(run.line);
    }
    return run.line;
  }

  // -- history ----------------------------------------------------------------------------------

  /** Show stored messages (chronological) at the end, or before everything (an older page). */
  addMessages(messages, { prepend = false } = {}) {
    if (prepend) {
      for (const m of [...messages].reverse()) this.addMessage(m, { prepend: true });
    } else {
      for (const m of messages) this.addMessage(m);
    }
  }

  addMessage(m, { prepend = false } = {}) {
    if (this.seenMessages.has(m.id)) return;
    this.seenMessages.add(m.id);
    const block = this.block(m.run_id, { prepend });
    const put = (el) => {
      if (!prepend) return block.append(el);
      // prepending an older page: a run's items go before what is already there, in order
      const anchor = block.querySelector(":scope > .run-status");
      if (m.kind === "user") block.prepend(el);
      else if (anchor) anchor.after(el);
      else block.prepend(el);
      return el;
    };
    if (m.kind === "user") {
      put(userBubble(m.content, m.id));
      if (m.run_id) this.statusLine(m.run_id);
      if (m.run_id) this.renderStatus(m.run_id);
    } else if (m.kind === "reasoning") {
      put(reasoningBlock(m.content, false));
    } else if (m.kind === "assistant") {
      const els = [];
      if (m.content) els.push(assistantBubble(m.content, m.id));
      for (const call of m.data?.tool_calls || []) els.push(this.card(call.call_id, call.name, call.arguments, m.data?.step));
      if (prepend) els.reverse().forEach(put);
      else els.forEach(put);
    } else if (m.kind === "tool_result") {
      const d = m.data || {};
      this.settle(d.call_id, { ok: d.ok, result: d.result });
    }
  }

  /** Runs' states from GET /runs (history): status, stop reason, usage, times. */
  setRuns(runs) {
    for (const r of runs) {
      const run = this.run(r.id);
      Object.assign(run, {
        status: r.status,
        step: r.steps,
        usage: r.usage,
        stopReason: r.stop_reason,
        error: r.error,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
      });
      if (this.blocks.has(r.id)) this.renderStatus(r.id);
      if (this.opts.onRunState) this.opts.onRunState(run);
    }
  }

  // -- live events ------------------------------------------------------------------------------

  onEvent(e) {
    const p = e.payload || {};
    switch (e.type) {
      case "chat.message_sent":
        this.addMessage({ id: p.message_id, run_id: e.run_id, kind: "user", content: p.content });
        break;
      case "run.queued":
        this.runUpdate(e.run_id, { status: "queued" });
        break;
      case "run.started":
        this.runUpdate(e.run_id, { status: "running", startedAt: e.created_at });
        break;
      case "run.waiting":
        this.runUpdate(e.run_id, { status: "waiting" });
        break;
      case "run.resumed":
        this.runUpdate(e.run_id, { status: "queued" });
        break;
      case "llm.text_delta":
        this.delta(e.run_id, p.step, "text", p.delta);
        this.runUpdate(e.run_id, { status: "running", step: Math.max(this.run(e.run_id).step, p.step + 1) });
        break;
      case "llm.reasoning_delta":
        this.delta(e.run_id, p.step, "reasoning", p.delta);
        break;
      case "llm.response_received":
        this.response(e.run_id, p);
        break;
      case "tool.executing":
        if (!this.cards.has(p.call_id)) this.block(e.run_id).append(this.card(p.call_id, p.tool, p.arguments, p.step));
        this.cards.get(p.call_id).dataset.live = "1";
        break;
      case "tool.completed":
      case "tool.failed":
        this.settle(p.call_id, { ok: p.ok, result: p.result, duration_ms: p.duration_ms, outcome: p.outcome });
        this.placeChips(e);
        break;
      case "run.completed":
      case "run.failed":
      case "run.cancelled":
        this.finish(e, p);
        break;
      default:
        if (DOMAIN.test(e.type)) this.holdChip(e);
    }
  }

  delta(runId, step, kind, text) {
    const key = `${runId}:${step}:${kind}`;
    let s = this.streams.get(key);
    if (!s) {
      const node = document.createTextNode("");
      let el;
      if (kind === "text") {
        el = h("div.msg.msg-assistant.streaming", { dataset: { step } }, h("div.bubble", h("p.stream-text", node)));
      } else {
        el = reasoningBlock("", true);
        el.querySelector(".reasoning-text").append(node);
      }
      this.block(runId).append(el);
      s = { el, node };
      this.streams.set(key, s);
    }
    this.batcher.appendText(s.node, text);
  }

  response(runId, p) {
    const run = this.run(runId);
    run.step = Math.max(run.step, p.step + 1);
    run.usage = addUsage(run.usage, p.usage);
    this.batcher.flush();
    const textKey = `${runId}:${p.step}:text`;
    const reasonKey = `${runId}:${p.step}:reasoning`;
    const streamed = this.streams.get(textKey);
    this.streams.delete(textKey);
    const reasoning = this.streams.get(reasonKey);
    this.streams.delete(reasonKey);
    if (reasoning) reasoning.el.classList.remove("streaming");
    if (this.seenMessages.has(p.message_id)) {
      if (streamed) streamed.el.remove();
    } else {
      this.seenMessages.add(p.message_id);
      if (p.reasoning && !reasoning) this.block(runId).append(reasoningBlock(p.reasoning, false));
      if (p.text) {
        const bubble = assistantBubble(p.text, p.message_id);
        if (streamed) streamed.el.replaceWith(bubble);
        else this.block(runId).append(bubble);
        if (!p.tool_calls?.length) this.opts.announce?.(`Reply: ${p.text.slice(0, 300)}`);
      } else if (streamed) {
        streamed.el.remove();
      }
    }
    this.renderStatus(runId);
    this.opts.onScroll?.();
  }

  runUpdate(runId, changes) {
    if (!runId) return;
    const run = this.run(runId);
    if (run.status && !ACTIVE.has(run.status)) return; // finished: a late event changes nothing
    if (changes.status === "queued" && run.status === "running") delete changes.status;
    Object.assign(run, changes);
    this.statusLine(runId);
    this.renderStatus(runId);
    this.opts.onRunState?.(run);
  }

  finish(e, p) {
    const run = this.run(e.run_id);
    this.batcher.flush();
    for (const [key, s] of this.streams) {
      if (key.startsWith(`${e.run_id}:`)) {
        s.el.classList.remove("streaming");
        this.streams.delete(key);
      }
    }
    Object.assign(run, {
      status: p.status,
      stopReason: p.stop_reason,
      usage: p.usage || run.usage,
      error: p.error || null,
      finishedAt: e.created_at,
    });
    this.statusLine(e.run_id);
    this.renderStatus(e.run_id);
    this.opts.onRunState?.(run);
    if (p.status !== "completed") this.opts.announce?.(`Run ${describeStatus(run)}`);
  }

  renderStatus(runId) {
    const run = this.run(runId);
    const line = this.statusLine(runId);
    line.dataset.status = run.status || "unknown";
    const parts = [];
    const max = this.opts.maxSteps?.();
    if (run.status === "queued") parts.push("Queued", run.queueNote);
    else if (run.status === "running") parts.push(`Running · step ${Math.max(run.step, 1)}${max ? ` of ${max}` : ""}`);
    else if (run.status === "waiting") parts.push("Waiting for child runs");
    else if (run.status) {
      parts.push(describeStatus(run));
      if (run.step) parts.push(`${run.step} step${run.step === 1 ? "" : "s"}`);
      if (run.usage) parts.push(`${run.usage.input_tokens + run.usage.output_tokens} tokens`);
      if (run.startedAt && run.finishedAt) parts.push(fmtDuration(new Date(run.finishedAt) - new Date(run.startedAt)));
    }
    if (run.note) parts.push(run.note);
    const shown = parts.filter(Boolean);
    fill(
      line,
      h(`span.status.status-${(run.status || "unknown").replace(/[^a-z_]/g, "")}`, shown.shift() || "…"),
      shown.length ? ` · ${shown.join(" · ")}` : "",
      run.error ? h("span.run-error", ` — ${run.error}`) : null,
      " ",
      h("a.run-link.mono", { href: `/runs/${encodeURIComponent(runId)}` }, runId),
    );
  }

  // -- tool cards -------------------------------------------------------------------------------

  card(callId, tool, args, step) {
    const existing = this.cards.get(callId);
    if (existing) return existing;
    const readOnly = this.opts.readOnlyTools?.get(tool);
    const state = h("span.tool-state", h("span.spinner", { "aria-hidden": "true" }), "running");
    const card = h(
      "article.tool-card",
      { dataset: { call: callId, tool, state: "running" }, "aria-label": `Tool call ${tool}` },
      h(
        "header.tool-head",
        h("span.tool-icon", { "aria-hidden": "true" }, "⚙"),
        mono(tool),
        readOnly === undefined ? null : h("span.badge", readOnly ? "read-only" : "read-write"),
        state,
      ),
      h("details.tool-args", h("summary", "Arguments"), h("pre.json", pretty(args))),
      h("div.chips"),
      h("div.tool-result"),
    );
    this.cards.set(callId, card);
    const known = this.results.get(callId);
    if (known) this.settleCard(card, known);
    return card;
  }

  settle(callId, result) {
    if (!callId) return;
    const card = this.cards.get(callId);
    if (!card) {
      this.results.set(callId, result);
      return;
    }
    if (card.dataset.state !== "running") return;
    this.settleCard(card, result);
  }

  settleCard(card, { ok, result, duration_ms, outcome }) {
    card.dataset.state = ok ? "ok" : "error";
    const state = card.querySelector(".tool-state");
    state.replaceChildren(ok ? "✓ done" : outcome === "refused" ? "✕ refused" : "✕ failed", duration_ms != null ? ` · ${fmtDuration(duration_ms)}` : "");
    const text = typeof result === "string" ? result : pretty(result);
    const box = card.querySelector(".tool-result");
    const pre = h(`pre.json${ok ? "" : ".error-text"}`, text.length > RESULT_PREVIEW ? `${text.slice(0, RESULT_PREVIEW)}…` : text);
    const details = h("details", { open: !ok }, h("summary", ok ? "Result" : "Error"), pre);
    if (text.length > RESULT_PREVIEW) {
      details.append(h("button.link", { type: "button", onclick: (e) => { pre.textContent = text; e.target.remove(); } }, "Show all"));
    }
    box.replaceChildren(details);
  }

  // A built-in tool's domain events (task.created, …) commit with its tool.completed, right
  // before it in the run's events: so the next tool.completed of the run names their call.
  // The same rule places them live and on a reload (chipsFrom), whatever calls ran at once.

  holdChip(e) {
    if (!e.run_id || this.chipped.has(e.seq)) return;
    const held = this.unplaced.get(e.run_id) || [];
    held.push(e);
    this.unplaced.set(e.run_id, held);
  }

  placeChips(completed) {
    const held = this.unplaced.get(completed.run_id);
    if (!held) return;
    this.unplaced.delete(completed.run_id);
    const card = this.cards.get(completed.payload.call_id);
    if (!card) return;
    for (const e of held) {
      if (e.seq != null) {
        if (this.chipped.has(e.seq)) continue; // seen both live and in the stored events
        this.chipped.add(e.seq);
      }
      const [kind, action] = e.type.split(".");
      const id = e.payload[`${kind}_id`];
      const label = e.payload.title || e.payload.name || id;
      const name = h("span.chip-label", String(label));
      const link = action === "deleted" ? name : h("a", { href: `/workspace/${kind}s/${encodeURIComponent(id)}` }, name);
      const chip = h("span.chip", { dataset: { event: e.type } }, `${kind} ${action}: `, link, " ", mono(id));
      card.querySelector(".chips").append(chip);
    }
  }

  /** Chips for stored cards: the session's domain and tool.completed events, in seq order. */
  chipsFrom(events) {
    for (const e of events) {
      if (DOMAIN.test(e.type)) this.holdChip(e);
      else if (e.type === "tool.completed" || e.type === "tool.failed") this.placeChips(e);
    }
  }

  activeRun() {
    let active = null;
    for (const run of this.runs.values()) if (ACTIVE.has(run.status) && (!active || run.id > active.id)) active = run;
    return active;
  }
}

export function describeStatus(run) {
  const reason = run.stopReason;
  if (run.status === "completed") return reason && reason !== "final_answer" ? `Completed (${reason})` : "Completed";
  if (run.status === "cancelled") return run.interrupted ? "Interrupted by a newer message" : reason === "parent_cancelled" ? "Cancelled with its parent" : "Cancelled";
  if (run.status === "max_steps") return "Stopped at the step limit";
  if (run.status === "timed_out") return "Timed out";
  if (run.status === "failed") return `Failed${reason ? ` (${reason})` : ""}`;
  return run.status || "";
}

function userBubble(text, id) {
  return h("div.msg.msg-user", { dataset: { message: id } }, h("span.sr-only", "You: "), h("div.bubble", h("p.user-text", text)));
}

function assistantBubble(text, id) {
  return h("div.msg.msg-assistant", { dataset: { message: id } }, h("span.sr-only", "Assistant: "), h("div.bubble.markdown", renderMarkdown(text)));
}

function reasoningBlock(text, streaming) {
  return h(`details.reasoning${streaming ? ".streaming" : ""}`, h("summary", "Reasoning"), h("p.reasoning-text", text));
}

function pretty(value) {
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

function addUsage(a, b) {
  if (!b) return a;
  if (!a) return { ...b };
  return { input_tokens: a.input_tokens + b.input_tokens, output_tokens: a.output_tokens + b.output_tokens };
}
