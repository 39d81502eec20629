// A team planner's plan in the chat: the routing decision, the steps with their dependencies
// and status, and each step's executor attempts with their output (live while they stream).
// Built from GET /plans/{id} (history) and from events (the planner's plan.* / executor.* and the
// executors' own run events); everything is keyed (step id, executor run id), so an event about
// something already shown updates it and a reload shows each thing once.
import { fill, h, mono, statusBadge } from "./dom.js";

export const PLAN_EVENTS = new Set(["analysis", "plan.created", "plan.step_started", "plan.step_completed", "executor.spawned", "executor.result"]);

export class PlanView {
  constructor(runId, { onScroll } = {}) {
    this.runId = runId;
    this.onScroll = onScroll;
    this.steps = new Map(); // step id → {data, el}
    this.executors = new Map(); // executor run id → {stepId, attempt, el, text, status, tools}
    this.early = new Map(); // executor run id → events seen before its step named it
    this.route = h("p.plan-route");
    this.list = h("ol.plan-steps");
    this.el = h("section.plan-panel", { dataset: { run: runId }, "aria-label": "Team plan" }, h("h3.plan-title", "Plan"), this.route, this.list);
    this.el.hidden = true;
  }

  setAnalysis(route, reason) {
    this.el.hidden = false;
    fill(this.route, h("span.badge", `route: ${route}`), " ", reason || "");
  }

  /** The stored plan (GET /plans/{id}): the whole state at once. */
  fromPlan(plan) {
    this.setAnalysis("complex", plan.reason);
    for (const s of plan.steps) {
      const step = this.step(s.step_id, s);
      step.data.status = s.status;
      step.data.attempts = s.attempts;
      step.data.usage = s.usage;
      for (const x of s.executors || []) {
        const ex = this.executor(x.run_id, s.step_id, x.attempt);
        ex.status = x.status;
        ex.usage = x.usage;
        if (x.run_id === s.executor_run_id && s.status === "completed" && s.result) ex.text.textContent = s.result;
        if (x.error) ex.error = x.error;
        this.drawExecutor(ex);
      }
      this.drawStep(s.step_id);
    }
    if (plan.usage) this.setTotals(plan.usage);
  }

  setTotals(usage) {
    const t = usage.total || usage;
    let foot = this.el.querySelector(":scope > .plan-usage");
    if (!foot) {
      foot = h("p.plan-usage.muted.small");
      this.el.append(foot);
    }
    foot.textContent = `Plan tokens: ${t.input_tokens} in / ${t.output_tokens} out`;
  }

  step(stepId, fields) {
    let step = this.steps.get(stepId);
    if (!step) {
      const data = { step_id: stepId, index: 0, title: stepId, depends_on: [], status: "pending", attempts: 0, ...fields };
      const el = h("li.plan-step", { dataset: { step: stepId } });
      step = { data, el, head: h("div.plan-step-head"), execs: h("div.plan-executors") };
      el.append(step.head, step.execs);
      this.steps.set(stepId, step);
      const after = [...this.list.children].find((li) => this.steps.get(li.dataset.step).data.index > data.index);
      this.list.insertBefore(el, after || null);
      this.el.hidden = false;
    } else if (fields) {
      for (const k of ["index", "title", "description", "instructions", "depends_on"]) if (fields[k] !== undefined) step.data[k] = fields[k];
    }
    return step;
  }

  drawStep(stepId) {
    const step = this.steps.get(stepId);
    const d = step.data;
    step.el.dataset.status = d.status;
    const bits = [];
    if (d.depends_on?.length) bits.push(`after ${d.depends_on.join(", ")}`);
    if (d.attempts > 1) bits.push(`${d.attempts} attempts (retried)`);
    if (d.usage) bits.push(`${d.usage.input_tokens + d.usage.output_tokens} tokens`);
    fill(
      step.head,
      h("span.plan-step-title", h("strong", d.title), " ", mono(stepId)),
      " ",
      h("span.plan-step-status", statusBadge(d.status)),
      bits.length ? h("span.muted.small", ` · ${bits.join(" · ")}`) : null,
      d.error ? h("span.run-error", ` — ${d.error}`) : null,
    );
  }

  executor(runId, stepId, attempt) {
    let ex = this.executors.get(runId);
    if (!ex) {
      const step = this.step(stepId);
      const text = h("p.executor-text");
      const summary = h("summary");
      const tools = h("ul.executor-tools");
      const link = h("p.executor-run.small", "Run ", h("a.mono", { href: `/runs/${encodeURIComponent(runId)}` }, runId));
      const el = h("details.executor", { open: true, dataset: { run: runId } }, summary, link, tools, text);
      ex = { runId, stepId, attempt, el, summary, text, tools, status: "queued", usage: null, error: null };
      this.executors.set(runId, ex);
      step.execs.append(el);
      this.drawExecutor(ex);
      for (const e of this.early.get(runId) || []) this.childEvent(e);
      this.early.delete(runId);
    }
    return ex;
  }

  drawExecutor(ex) {
    ex.el.dataset.status = ex.status;
    const tokens = ex.usage ? ` · ${ex.usage.input_tokens + ex.usage.output_tokens} tokens` : "";
    fill(ex.summary, `Executor · attempt ${ex.attempt} · `, h("span.executor-status", ex.status), tokens);
    if (ex.error) ex.summary.append(h("span.run-error", ` — ${ex.error}`));
  }

  /** An event of the planner's run (analysis, plan.*, executor.*). */
  onEvent(e) {
    const p = e.payload || {};
    switch (e.type) {
      case "analysis":
        this.setAnalysis(p.route, p.reason);
        break;
      case "plan.created":
        this.setAnalysis("complex", p.reason);
        for (const s of p.steps || []) this.drawStep(this.step(s.step_id, s).data.step_id);
        break;
      case "plan.step_started": {
        const step = this.step(p.step_id);
        if (!["completed", "failed", "skipped"].includes(step.data.status)) step.data.status = "running";
        step.data.attempts = Math.max(step.data.attempts, p.attempt);
        this.executor(p.executor_run_id, p.step_id, p.attempt);
        this.drawStep(p.step_id);
        break;
      }
      case "executor.spawned":
        if (p.step_id) this.executor(p.child_run_id, p.step_id, p.attempt);
        break;
      case "executor.result": {
        const ex = this.executors.get(p.child_run_id);
        if (!ex) break;
        ex.status = p.status;
        ex.usage = p.usage;
        ex.error = p.error || null;
        if (p.text) ex.text.textContent = p.text;
        if (p.retry) ex.el.open = false;
        this.drawExecutor(ex);
        break;
      }
      case "plan.step_completed": {
        const step = this.step(p.step_id);
        Object.assign(step.data, { status: p.status, attempts: p.attempts, error: p.error || null });
        this.drawStep(p.step_id);
        break;
      }
    }
    this.onScroll?.();
  }

  /** An event of an executor's own run (from the parent_run_id stream). */
  childEvent(e) {
    const ex = this.executors.get(e.run_id);
    if (!ex) {
      if (!this.early.has(e.run_id)) this.early.set(e.run_id, []);
      this.early.get(e.run_id).push(e);
      return;
    }
    const p = e.payload || {};
    const finished = ["completed", "failed", "cancelled", "timed_out", "max_steps"].includes(ex.status);
    switch (e.type) {
      case "run.started":
        if (!finished) ex.status = "running";
        break;
      case "llm.text_delta":
        if (!finished) {
          if (ex.step !== p.step) ex.text.textContent = "";
          ex.step = p.step;
          ex.text.append(p.delta);
          ex.el.classList.add("streaming");
        }
        break;
      case "llm.response_received":
        if (p.text && !finished) ex.text.textContent = p.text;
        break;
      case "tool.executing":
        if (p.call_id && !ex.tools.querySelector(`[data-call="${CSS.escape(p.call_id)}"]`)) ex.tools.append(h("li", { dataset: { call: p.call_id } }, "⚙ ", mono(p.tool)));
        break;
      case "run.completed":
      case "run.failed":
      case "run.cancelled":
        ex.status = p.status || ex.status;
        ex.el.classList.remove("streaming");
        break;
      default:
        return;
    }
    this.drawExecutor(ex);
    this.onScroll?.();
  }
}
