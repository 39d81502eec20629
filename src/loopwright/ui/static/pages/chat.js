// The chat: sessions | conversation | run inspector (one at a time on a phone). The
// conversation opens on its newest page of messages, pages back on scroll, and follows the
// session's events from the store's high-water mark taken before the messages were read, so a
// reload resumes the stream and nothing in between is missed or shown twice.
import { ApiError } from "../lib/api.js";
import { Conversation, describeStatus } from "../lib/conversation.js";
import { fill, fmtTime, guard, h, mono, statusBadge } from "../lib/dom.js";
import { EventStream, highWater } from "../lib/sse.js";
import { PLAN_EVENTS, PlanView } from "../lib/plan.js";
import { emptyState, errorState, load, skeleton } from "../lib/states.js";
import { renderInspector } from "./chat-inspector.js";
import { approvalCard, decidedState } from "./parts/approvals.js";
import { suggestionNote } from "./parts/suggestion-note.js";
import { ensureStyles } from "./parts/kit.js";

const PAGE = 50;
const POLICIES = { enqueue: "queue it", reject: "refuse it", interrupt: "interrupt the run" };

export function render(root, ctx) {
  const chat = new ChatPage(root, ctx);
  chat.mount();
  current = chat;
  return () => {
    chat.destroy();
    current = null;
  };
}

let current = null;

export function update(ctx) {
  if (!current) return false;
  current.ctx = ctx;
  current.open(ctx.params.session || null);
  return true;
}

class ChatPage {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.agents = [];
    this.sessions = [];
    this.lastRuns = new Map();
    this.readOnlyTools = new Map();
    this.session = null;
    this.stream = null;
    this.conversation = null;
    this.generation = 0;
    this.plans = new Map(); // planner run id → PlanView
    this.childStreams = new Map(); // planner run id → EventStream of its executors
  }

  get api() {
    return this.ctx.api;
  }

  mount() {
    const { ctx } = this;
    this.agentSelect = h("select", { "aria-label": "Agent" });
    this.agentSelect.addEventListener("change", () => {
      ctx.router.setQuery({ agent: this.agentSelect.value });
      this.loadSessions();
    });
    const newButton = guard(h("button.primary", { type: "button", onclick: () => this.newSession() }, "New session"), ctx.can("member"), "Starting sessions needs the member role");
    this.sessionList = h("div.session-list");
    this.sessionsPane = h(
      "aside.chat-sessions",
      { "aria-label": "Sessions" },
      h("h1.pane-title", "Chat"),
      h("label.agent-pick", "Agent", this.agentSelect),
      newButton,
      h("h2.sr-only", "Sessions"),
      this.sessionList,
    );
    this.convPane = h("section.chat-conv", { "aria-label": "Conversation" });
    this.inspectorPane = h("aside.chat-inspector", { "aria-label": "Run details" });
    this.layout = h("div.chat", this.sessionsPane, this.convPane, this.inspectorPane);
    this.root.classList.add("main-chat");
    this.root.append(this.layout);
    this.offEvents = ctx.events.subscribe((e) => this.onStoreEvent(e));
    this.booted = this.boot();
  }

  async boot() {
    this.sessionList.replaceChildren(skeleton(5));
    try {
      const [agents, tools] = await Promise.all([
        this.api.all(this.api.s("/agents"), {}, 500),
        this.api.get(this.api.s("/tools")).then((t) => t.items).catch(() => []),
      ]);
      this.agents = agents;
      for (const t of tools) this.readOnlyTools.set(t.name, t.read_only);
    } catch (err) {
      this.sessionList.replaceChildren(errorState(err, () => this.boot()));
      return;
    }
    const wanted = this.ctx.query.get("agent");
    fill(
      this.agentSelect,
      h("option", { value: "" }, "All agents"),
      this.agents.map((a) => h("option", { value: a.id, selected: a.id === wanted }, a.status === "active" ? a.name : `${a.name} (disabled)`)),
    );
    await this.loadSessions();
    this.open(this.ctx.params.session || null);
  }

  async loadSessions() {
    const list = this.sessionList;
    await load(
      list,
      () =>
        Promise.all([
          this.api.get(this.api.s("/sessions"), { agent_id: this.agentSelect.value, child: false, limit: 100 }),
          this.api.get(this.api.s("/runs"), { limit: 200 }).catch(() => ({ items: [] })),
        ]),
      ([sessions, runs]) => {
        this.sessions = sessions.items;
        this.lastRuns.clear();
        for (const r of runs.items) if (!this.lastRuns.has(r.session_id)) this.lastRuns.set(r.session_id, r);
        this.drawSessions();
        if (runs.next_cursor) this.fillLastRuns();
      },
      { rows: 5 },
    );
  }

  /** Sessions whose last run is older than the store's newest 200 runs: ask for each. */
  async fillLastRuns() {
    const missing = this.sessions.filter((s) => !this.lastRuns.has(s.id));
    await Promise.all(
      missing.map(async (s) => {
        const page = await this.api.get(this.api.s("/runs"), { session_id: s.id, limit: 1 }).catch(() => null);
        if (page?.items.length) this.lastRuns.set(s.id, page.items[0]);
      }),
    );
    if (missing.length) this.drawSessions();
  }

  drawSessions() {
    const list = this.sessionList;
    if (!this.sessions.length) {
      list.replaceChildren(emptyState(this.agents.length ? "No sessions yet — start one with New session." : "No agents yet — create one first.", this.agents.length ? null : h("a.button", { href: "/agents/new" }, "Create an agent")));
      return;
    }
    const member = this.ctx.can("member");
    list.replaceChildren(
      h(
        "ul.sessions",
        this.sessions.map((s) => {
          const run = this.lastRuns.get(s.id);
          const agent = this.agents.find((a) => a.id === s.agent_id);
          const link = h(
            "a.session-link",
            { href: `/chat/${encodeURIComponent(s.id)}`, "aria-current": this.session?.id === s.id ? "page" : null },
            h("span.session-title", s.title || "Untitled session"),
            h("span.session-meta", agent ? agent.name : mono(s.agent_id), " · ", fmtTime(s.created_at)),
            run ? statusBadge(run.status) : h("span.status", "no runs"),
          );
          return h(
            "li.session-item",
            { dataset: { session: s.id } },
            link,
            h(
              "div.session-actions",
              guard(h("button.icon", { type: "button", "aria-label": `Rename ${s.title || "session"}`, title: "Rename", onclick: () => this.rename(s) }, "✎"), member, "Needs the member role"),
              guard(h("button.icon", { type: "button", "aria-label": `Delete ${s.title || "session"}`, title: "Delete", onclick: () => this.remove(s) }, "✕"), member, "Needs the member role"),
            ),
          );
        }),
      ),
    );
  }

  async newSession() {
    await this.booted; // a click before the agents and sessions loaded: the session opens after
    let agentId = this.agentSelect.value;
    if (!agentId) {
      const active = this.agents.filter((a) => a.status === "active");
      if (active.length !== 1) {
        this.ctx.toast.error(active.length ? "Pick an agent first." : "No active agent: create one first.");
        this.agentSelect.focus();
        return;
      }
      agentId = active[0].id;
    }
    try {
      const s = await this.api.post(this.api.s("/sessions"), { agent_id: agentId, title: `Chat ${new Date().toLocaleString()}` });
      this.sessions.unshift(s);
      this.drawSessions();
      this.ctx.router.go(`/chat/${encodeURIComponent(s.id)}`);
    } catch (err) {
      this.ctx.toast.error(err.message);
    }
  }

  async rename(s) {
    const title = await this.ctx.prompt("Rename session", "Title", s.title);
    if (title === undefined) return;
    try {
      const updated = await this.api.patch(this.api.s(`/sessions/${encodeURIComponent(s.id)}`), { title });
      Object.assign(s, updated);
      this.drawSessions();
      if (this.session?.id === s.id) {
        this.session = updated;
        this.titleEl.textContent = updated.title || "Untitled session";
      }
      this.ctx.toast.ok("Renamed");
    } catch (err) {
      this.ctx.toast.error(err.message);
    }
  }

  async remove(s) {
    const ok = await this.ctx.confirm("Delete session", `Delete "${s.title || "Untitled session"}" with its messages and runs?`, { confirmLabel: "Delete", danger: true });
    if (!ok) return;
    try {
      await this.api.del(this.api.s(`/sessions/${encodeURIComponent(s.id)}`));
      this.sessions = this.sessions.filter((x) => x.id !== s.id);
      this.drawSessions();
      this.ctx.toast.ok("Session deleted");
      if (this.session?.id === s.id) this.ctx.router.go("/chat");
    } catch (err) {
      this.ctx.toast.error(err.message);
    }
  }

  onStoreEvent(e) {
    if (e.type.startsWith("run.") && e.session_id) {
      const prev = this.lastRuns.get(e.session_id);
      if (!prev || prev.id <= e.run_id) {
        const status = e.payload.status || { "run.queued": "queued", "run.started": "running", "run.waiting": "waiting", "run.resumed": "queued" }[e.type];
        this.lastRuns.set(e.session_id, { id: e.run_id, status, session_id: e.session_id });
        const item = this.sessionList.querySelector(`[data-session="${CSS.escape(e.session_id)}"] .status`);
        if (item) item.replaceWith(statusBadge(status));
      }
    }
    if (e.type === "session.created" || e.type === "session.deleted") this.loadSessions();
  }

  // -- the conversation -------------------------------------------------------------------------

  open(sessionId) {
    this.generation += 1;
    const generation = this.generation;
    if (this.stream) this.stream.stop();
    this.stream = null;
    this.stopPlans();
    this.conversation = null;
    this.layout.dataset.view = sessionId ? "conversation" : "sessions";
    for (const a of this.sessionList.querySelectorAll(".session-link")) {
      a.toggleAttribute("aria-current", a.getAttribute("href") === `/chat/${encodeURIComponent(sessionId)}`);
      if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
    }
    this.inspectorPane.replaceChildren();
    if (!sessionId) {
      this.session = null;
      this.convPane.replaceChildren(emptyState("Pick a session, or start a new one."));
      return;
    }
    this.convPane.replaceChildren(skeleton(6));
    this.loadConversation(sessionId, generation).catch((err) => {
      if (generation !== this.generation) return;
      this.convPane.replaceChildren(errorState(err, () => this.open(sessionId)));
    });
  }

  async loadConversation(sessionId, generation) {
    const api = this.api;
    const base = api.s(`/sessions/${encodeURIComponent(sessionId)}`);
    const after = await highWater(api);
    const [session, page, runs] = await Promise.all([
      api.get(base),
      api.get(`${base}/messages`, { order: "newest", limit: PAGE }),
      api.get(api.s("/runs"), { session_id: sessionId, limit: 200 }),
    ]);
    if (generation !== this.generation) return;
    this.session = session;
    this.openedAfter = after;
    this.agent = this.agents.find((a) => a.id === session.agent_id) || null;
    this.buildConversation(session);
    const conv = this.conversation;
    conv.addMessages([...page.items].reverse());
    conv.setRuns(runs.items);
    this.storedChips(sessionId, generation);
    this.olderCursor = page.next_cursor;
    this.olderButton.hidden = !this.olderCursor;
    this.scrollToEnd();
    this.updateComposer();
    this.stream = new EventStream(api, {
      label: "chat",
      after,
      query: { session_id: sessionId },
      onEvent: (e) => {
        if (generation !== this.generation) return;
        conv.onEvent(e);
        if (e.type === "approval.requested") this.showApproval({ ...e.payload, run_id: e.run_id });
        if (e.type === "approval.decided") this.approvalDecided(e.payload);
        if (e.type === "memory.suggested") this.showSuggestion({ ...e.payload, run_id: e.run_id });
        if (PLAN_EVENTS.has(e.type)) this.planEvent(e, generation);
        if (["run.completed", "run.failed", "run.cancelled"].includes(e.type)) this.stopChildStream(e.run_id);
        if (e.type === "run.cancelled" && this.interrupting?.has(e.run_id)) {
          conv.run(e.run_id).interrupted = true;
          conv.renderStatus(e.run_id);
        }
        if (e.type.startsWith("run.")) this.refreshInspector(e.run_id, e.type);
      },
    });
    this.refreshInspector(runs.items[0]?.id);
    this.loadApprovals(sessionId, generation);
    this.loadSuggestions(sessionId, generation);
    if (this.agent?.mode === "team") await this.loadPlans(runs.items, after, generation);
  }

  // -- tool approvals ---------------------------------------------------------------------------

  /** The session's calls waiting for a person, as cards under their runs. */
  async loadApprovals(sessionId, generation) {
    const page = await this.api.get(this.api.s("/approvals"), { status: "pending", limit: 200 }).catch(() => ({ items: [] }));
    if (generation !== this.generation) return;
    for (const approval of page.items) if (approval.session_id === sessionId) this.showApproval(approval);
  }

  showApproval(approval) {
    const id = approval.approval_id || approval.id;
    if (!this.conversation || this.convPane.querySelector(`[data-approval="${CSS.escape(id)}"]`)) return;
    ensureStyles();
    const card = approvalCard(this.ctx, approval);
    this.conversation.statusLine(approval.run_id).after(card);
    this.afterContent?.();
  }

  approvalDecided(payload) {
    const card = this.convPane.querySelector(`[data-approval="${CSS.escape(payload.approval_id)}"]`);
    if (card && !card.dataset.status) decidedState(card, payload);
  }

  // -- suggested memories -----------------------------------------------------------------------

  /** The session's suggestions still waiting for a person, under their reflection runs. */
  async loadSuggestions(sessionId, generation) {
    const page = await this.api.get(this.api.s("/memory-suggestions"), { session_id: sessionId, status: "pending", limit: 200 }).catch(() => ({ items: [] }));
    if (generation !== this.generation) return;
    for (const s of page.items) this.showSuggestion(s);
  }

  showSuggestion(s) {
    const id = s.suggestion_id || s.id;
    if (!this.conversation || this.convPane.querySelector(`[data-suggestion="${CSS.escape(id)}"]`)) return;
    ensureStyles();
    const note = suggestionNote(this.ctx, s);
    if (s.run_id) this.conversation.block(s.run_id).append(note);
    else this.conversation.list.append(note);
    this.afterContent?.();
  }

  // -- team plans -------------------------------------------------------------------------------

  /** The plans of the team runs shown (history), and the executors' streams of active ones. */
  async loadPlans(runs, after, generation) {
    const shown = runs.filter((r) => this.conversation.blocks.has(r.id));
    await Promise.all(
      shown.map(async (r) => {
        const page = await this.api.get(this.api.s("/plans"), { run_id: r.id }).catch(() => ({ items: [] }));
        if (!page.items.length || generation !== this.generation) return;
        const plan = await this.api.get(this.api.s(`/plans/${encodeURIComponent(page.items[0].id)}`)).catch(() => null);
        if (!plan || generation !== this.generation) return;
        this.planView(r.id).fromPlan(plan);
        if (["queued", "running", "waiting"].includes(r.status)) this.openChildStream(r.id, after, generation);
      }),
    );
  }

  planView(runId) {
    let view = this.plans.get(runId);
    if (!view) {
      view = new PlanView(runId, { onScroll: () => this.afterContent() });
      this.plans.set(runId, view);
      this.conversation.statusLine(runId).after(view.el);
    }
    return view;
  }

  planEvent(e, generation) {
    this.planView(e.run_id).onEvent(e);
    if (e.type === "plan.created") this.openChildStream(e.run_id, e.seq - 1, generation);
  }

  openChildStream(runId, after, generation) {
    if (this.childStreams.has(runId) || generation !== this.generation) return;
    const view = this.planView(runId);
    this.childStreams.set(
      runId,
      new EventStream(this.api, {
        label: "executors",
        after,
        query: { parent_run_id: runId },
        onEvent: (e) => {
          if (generation === this.generation && e.run_id !== runId) view.childEvent(e);
        },
      }),
    );
  }

  /** The planner ended (its executors before it): stop the stream, then read what it had not
   *  delivered yet (it may still have been connecting) as pages, so nothing stored is missed. */
  async stopChildStream(runId) {
    const stream = this.childStreams.get(runId);
    if (!stream) return;
    stream.stop();
    this.childStreams.delete(runId);
    const view = this.plans.get(runId);
    const generation = this.generation;
    let after = stream.lastSeq;
    for (;;) {
      const page = await this.api.get(this.api.s("/events"), { parent_run_id: runId, after, limit: 200 }).catch(() => null);
      if (!page || generation !== this.generation) return;
      for (const e of page.items) if (e.run_id !== runId) view.childEvent(e);
      if (page.items.length < 200) return;
      after = page.next_after;
    }
  }

  stopPlans() {
    for (const stream of this.childStreams.values()) stream.stop();
    this.childStreams.clear();
    this.plans.clear();
  }

  buildConversation(session) {
    const { ctx } = this;
    this.titleEl = h("h2.conv-title", session.title || "Untitled session");
    const back = h("button.back", { type: "button", onclick: () => ctx.router.go("/chat") }, "← Sessions");
    const policy = h(
      "select",
      { "aria-label": "When a message arrives during a run", disabled: !ctx.can("member") },
      Object.entries(POLICIES).map(([value, label]) => h("option", { value, selected: session.busy_policy === value }, `busy: ${label}`)),
    );
    policy.addEventListener("change", async () => {
      try {
        this.session = await this.api.patch(this.api.s(`/sessions/${encodeURIComponent(session.id)}`), { busy_policy: policy.value });
        ctx.toast.ok(`A message sent during a run will ${POLICIES[policy.value]}`);
      } catch (err) {
        ctx.toast.error(err.message);
      }
    });
    const inspectToggle = h("button", { type: "button", "aria-controls": "inspector", onclick: () => (this.layout.dataset.view = this.layout.dataset.view === "inspector" ? "conversation" : "inspector") }, "Run details");
    const header = h(
      "header.conv-head",
      back,
      h("div.conv-heading", this.titleEl, h("p.muted.small", this.agent ? this.agent.name : mono(session.agent_id), " · ", mono(session.id))),
      h("div.conv-tools", policy, inspectToggle),
    );
    this.list = h("div.conv-list");
    this.olderButton = h("button.older", { type: "button", onclick: () => this.loadOlder() }, "Load older messages");
    this.scroller = h("div.conv-scroll", { tabindex: "0", role: "log", "aria-label": "Messages", "aria-live": "off" }, this.olderButton, this.list);
    this.jump = h("button.jump", { type: "button", hidden: true, onclick: () => this.scrollToEnd(true) }, "↓ Jump to latest");
    this.live = h("div.sr-only", { "aria-live": "polite", role: "status" });
    this.pinned = true;
    this.scroller.addEventListener("scroll", () => {
      const gap = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight;
      this.pinned = gap < 48;
      if (this.pinned) this.jump.hidden = true;
      if (this.scroller.scrollTop < 40 && this.olderCursor && !this.loadingOlder) this.loadOlder();
    });
    this.input = h("textarea", { rows: 2, placeholder: "Message (Enter sends, Shift+Enter new line)", "aria-label": "Message" });
    this.sendButton = h("button.primary", { type: "submit" }, "Send");
    this.cancelButton = h("button.danger", { type: "button", hidden: true, onclick: () => this.cancel() }, "Cancel run");
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.send();
      }
    });
    const composer = h(
      "form.composer",
      { onsubmit: (e) => { e.preventDefault(); this.send(); } },
      this.input,
      h("div.composer-actions", this.cancelButton, guard(this.sendButton, ctx.can("member"), "Sending needs the member role")),
    );
    if (!ctx.can("member")) this.input.disabled = true;
    this.convPane.replaceChildren(header, h("div.conv-body", this.scroller, this.jump), composer, this.live);
    this.inspectorPane.id = "inspector";
    this.conversation = new Conversation(this.list, {
      readOnlyTools: this.readOnlyTools,
      maxSteps: () => this.agent?.max_steps,
      announce: (text) => (this.live.textContent = text),
      onScroll: () => this.afterContent(),
      onRunState: (run) => {
        this.updateComposer();
        this.watchQueue(run);
      },
    });
    this.input.focus();
  }

  /** The chips of the stored tool cards: the session's domain events with the tool.completed
   *  that follows each, read in pages up to CHIP_EVENTS_MAX (a long session's oldest cards may
   *  go without). */
  async storedChips(sessionId, generation) {
    const events = [];
    let after = 0;
    try {
      while (events.length < CHIP_EVENTS_MAX) {
        const page = await this.api.get(this.api.s("/events"), { session_id: sessionId, types: CHIP_TYPES, after, limit: 1000 });
        if (generation !== this.generation) return;
        events.push(...page.items);
        if (page.items.length < 1000 || page.next_after <= after) break;
        after = page.next_after;
      }
    } catch {
      return; // the cards stay without chips; nothing else depends on them
    }
    this.chipEvents = events;
    this.conversation.chipsFrom(events);
  }

  /** A run still queued after a moment shows where it stands (GET /runs/{id}'s `queue`),
   *  looked up again every QUEUE_POLL_MS while it waits. */
  watchQueue(run) {
    if (run.status !== "queued" || run.queueTimer) return;
    const conv = this.conversation;
    const generation = this.generation;
    const look = async () => {
      run.queueTimer = null;
      if (generation !== this.generation || run.status !== "queued") return;
      try {
        const found = await this.api.get(this.api.s(`/runs/${encodeURIComponent(run.id)}`));
        if (generation !== this.generation || run.status !== "queued") return;
        run.queueNote = queueNote(found.queue);
        conv.renderStatus(run.id);
      } catch {
        // the next look tries again
      }
      if (run.status === "queued") run.queueTimer = setTimeout(look, QUEUE_POLL_MS);
    };
    run.queueTimer = setTimeout(look, QUEUE_FIRST_LOOK_MS);
  }

  afterContent() {
    if (this.pinned) this.scrollToEnd();
    else if (this.jump) this.jump.hidden = false;
  }

  scrollToEnd(focus = false) {
    if (!this.scroller) return;
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.pinned = true;
    this.jump.hidden = true;
    if (focus) this.input.focus();
  }

  async loadOlder() {
    if (!this.olderCursor || this.loadingOlder) return;
    this.loadingOlder = true;
    const generation = this.generation;
    try {
      const base = this.api.s(`/sessions/${encodeURIComponent(this.session.id)}`);
      const page = await this.api.get(`${base}/messages`, { order: "newest", limit: PAGE, cursor: this.olderCursor });
      if (generation !== this.generation) return;
      const before = this.scroller.scrollHeight;
      this.conversation.addMessages([...page.items].reverse(), { prepend: true });
      this.conversation.chipsFrom(this.chipEvents || []);
      if (this.agent?.mode === "team") {
        const ids = new Set(page.items.map((m) => m.run_id).filter((id) => id && !this.plans.has(id)));
        await this.loadPlans([...ids].map((id) => ({ id, status: this.conversation.run(id).status })), this.openedAfter, generation);
        if (generation !== this.generation) return;
      }
      this.scroller.scrollTop += this.scroller.scrollHeight - before;
      this.olderCursor = page.next_cursor;
      this.olderButton.hidden = !this.olderCursor;
    } catch (err) {
      this.ctx.toast.error(err.message);
    } finally {
      this.loadingOlder = false;
    }
  }

  updateComposer() {
    if (!this.conversation) return;
    const active = this.conversation.activeRun();
    this.cancelButton.hidden = !active || !this.ctx.can("member");
    this.cancelButton.dataset.run = active ? active.id : "";
  }

  async send() {
    const content = this.input.value;
    if (!content.trim() || !this.session) return;
    const conv = this.conversation;
    const active = conv.activeRun();
    const policy = this.session.busy_policy;
    this.sendButton.disabled = true;
    try {
      const sent = await this.api.post(this.api.s(`/sessions/${encodeURIComponent(this.session.id)}/messages`), { content });
      this.input.value = "";
      conv.addMessage(sent.message);
      const run = conv.run(sent.run.id);
      if (active && policy === "enqueue") run.note = "waits for the run before it";
      if (active && policy === "interrupt") {
        this.interrupting = this.interrupting || new Set();
        this.interrupting.add(active.id);
        conv.run(active.id).interrupted = true;
        conv.renderStatus(active.id);
        run.note = "interrupted the run before it";
      }
      // The POST's status is a snapshot: the stream may have moved the run on already
      // (started, waiting for an approval), and a late "queued" must not take that back.
      conv.runUpdate(sent.run.id, run.status ? {} : { status: sent.run.status });
      this.scrollToEnd();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        const runId = err.details?.run_id;
        this.notice(`Not sent: a run is still active${runId ? ` (${runId})` : ""} and this session refuses messages during a run. Wait for it or cancel it, then send again.`);
      } else {
        this.ctx.toast.error(err.message);
      }
    } finally {
      this.sendButton.disabled = false;
      this.input.focus();
    }
  }

  notice(text) {
    const el = h("p.conv-notice", { role: "alert" }, text);
    this.list.append(el);
    this.scrollToEnd();
  }

  async cancel() {
    const runId = this.cancelButton.dataset.run;
    if (!runId) return;
    this.cancelButton.disabled = true;
    try {
      await this.api.post(this.api.s(`/runs/${encodeURIComponent(runId)}/cancel`), {});
      this.ctx.toast.ok("Cancelling the run");
    } catch (err) {
      this.ctx.toast.error(err.message);
    } finally {
      this.cancelButton.disabled = false;
    }
  }

  refreshInspector(runId, type) {
    if (!runId) {
      this.inspectorPane.replaceChildren(h("h2.pane-title", "Run details"), h("p.muted", "No runs in this session yet."));
      return;
    }
    if (type && !["run.started", "run.completed", "run.failed", "run.cancelled", "run.queued"].includes(type)) return;
    clearTimeout(this.inspectTimer);
    this.inspectTimer = setTimeout(() => renderInspector(this.inspectorPane, this.api, runId, describeStatus), 150);
  }

  destroy() {
    this.generation += 1;
    for (const run of this.conversation?.runs.values() || []) clearTimeout(run.queueTimer);
    if (this.stream) this.stream.stop();
    this.stopPlans();
    clearTimeout(this.inspectTimer);
    this.offEvents();
    this.root.classList.remove("main-chat");
  }
}

const QUEUE_FIRST_LOOK_MS = 700;
const CHIP_EVENTS_MAX = 10_000;
const CHIP_TYPES = ["tool.completed", "tool.failed", ...["task", "project", "document"].flatMap((kind) => ["created", "updated", "deleted"].map((action) => `${kind}.${action}`))].join(",");
const QUEUE_POLL_MS = 3000;

/** "3 runs ahead · after the session's earlier run", or null when nothing is known. */
function queueNote(queue) {
  if (!queue) return null;
  const parts = [queue.ahead === 0 ? "next to start" : `${queue.ahead} run${queue.ahead === 1 ? "" : "s"} ahead`];
  if (queue.waits_for_run) parts.push("after this conversation's earlier run");
  return parts.join(" · ");
}
