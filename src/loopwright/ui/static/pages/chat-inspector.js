// The run inspector beside the chat: the selected run's status, usage, and each model step
// (model, tokens, latency, tool calls), with a link to the run's own page; the long-term
// memories the run was given (recorded on its first step) with their scores; its tool calls
// with outcome and duration; its child runs (ask_agent answers, a team's executors).
import { fmtDuration, fmtTime, h, mono, statusBadge } from "../lib/dom.js";
import { errorState, skeleton } from "../lib/states.js";

export async function renderInspector(pane, api, runId, describe) {
  pane.replaceChildren(h("h2.pane-title", "Run details"), skeleton(3));
  try {
    const [run, steps, calls, children] = await Promise.all([
      api.get(api.s(`/runs/${encodeURIComponent(runId)}`)),
      api.get(api.s(`/runs/${encodeURIComponent(runId)}/steps`)).then((s) => s.items || s).catch(() => []),
      api.get(api.s("/tool-calls"), { run_id: runId, limit: 200 }).then((p) => [...p.items].reverse()).catch(() => []),
      api.get(api.s("/runs"), { parent_run_id: runId, limit: 100 }).then((p) => p.items).catch(() => []),
    ]);
    const duration = run.started_at && run.finished_at ? fmtDuration(new Date(run.finished_at) - new Date(run.started_at)) : "—";
    const parts = [
      h("h2.pane-title", "Run details"),
      h(
        "dl.props",
        h("dt", "Run"), h("dd", h("a.mono", { href: `/runs/${encodeURIComponent(run.id)}` }, run.id)),
        h("dt", "Status"), h("dd", statusBadge(run.status), run.stop_reason ? ` · ${run.stop_reason}` : ""),
        h("dt", "Trigger"), h("dd", run.trigger),
        h("dt", "Steps"), h("dd", String(run.steps)),
        h("dt", "Tokens"), h("dd", `${run.usage.input_tokens} in · ${run.usage.output_tokens} out`),
        h("dt", "Duration"), h("dd", duration),
        h("dt", "Queued"), h("dd", fmtTime(run.created_at)),
        run.error ? [h("dt", "Error"), h("dd.error-text", run.error)] : null,
        run.parent_run_id ? [h("dt", "Parent"), h("dd", mono(run.parent_run_id))] : null,
      ),
      memoriesUsed(steps[0]?.memories),
      h("h3", "Model steps"),
      steps.length
        ? h(
            "ol.steps",
            steps.map((s) =>
              h(
                "li",
                mono(s.model || s.provider || "model"),
                h("span.muted.small", ` · ${s.input_tokens + s.output_tokens} tokens · ${fmtDuration(s.latency_ms)}`),
                s.tool_calls?.length ? h("ul.plain.small", s.tool_calls.map((c) => h("li", "⚙ ", mono(c.name)))) : null,
              ),
            ),
          )
        : h("p.muted", "No model step yet."),
      calls.length
        ? [h("h3", `Tool calls (${calls.length})`),
          h("ol.plain.small.tool-timings", calls.map((c) => h("li", { dataset: { outcome: c.outcome } },
            c.outcome === "ok" ? "✓ " : "✕ ", mono(c.tool_name), h("span.muted", ` · ${c.outcome} · ${fmtDuration(c.duration_ms)}`))))]
        : null,
      children.length
        ? [h("h3", `Child runs (${children.length})`),
          h("ol.plain.small.child-runs", children.map((c) => h("li",
            h("a.mono", { href: `/runs/${encodeURIComponent(c.id)}` }, c.id), " ", statusBadge(c.status),
            c.plan_step ? h("span.muted", ` · step ${c.plan_step.step_id}`) : null)))]
        : null,
    ];
    pane.replaceChildren(...parts.flat().filter(Boolean)); // no "null" text for an absent part
  } catch (err) {
    pane.replaceChildren(h("h2.pane-title", "Run details"), errorState(err, () => renderInspector(pane, api, runId, describe)));
  }
}

/** The memories in the run's context, best first, with why (relevance, importance, recency). */
function memoriesUsed(memories) {
  if (!memories) return null;
  return h("section.memories-used", { "aria-labelledby": "memories-used-h" },
    h("h3", { id: "memories-used-h" }, `Memories used (${memories.length})`),
    memories.length
      ? h("ol.plain.small", memories.map((m) => h("li",
        { title: `relevance ${m.relevance.toFixed(2)} · importance ${m.importance.toFixed(2)} · recency ${m.recency.toFixed(2)}` },
        h("span.badge", m.type), " ", m.content,
        h("span.muted", ` · score ${m.score.toFixed(2)}`))))
      : h("p.muted", "None matched this message."));
}
