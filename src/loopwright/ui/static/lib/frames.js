// Batches DOM writes to one per animation frame: hundreds of deltas a second become one text
// append per node per frame, and the scroll is adjusted once after them.

export class FrameBatcher {
  constructor(afterFlush) {
    this.pending = new Map(); // Text node → string to append
    this.tasks = [];
    this.scheduled = false;
    this.afterFlush = afterFlush;
  }

  appendText(node, text) {
    this.pending.set(node, (this.pending.get(node) || "") + text);
    this.schedule();
  }

  /** Run `fn` in the next frame, after pending text. */
  later(fn) {
    this.tasks.push(fn);
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.flush());
  }

  /** Apply everything now (before replacing a streamed bubble with its final form). */
  flush() {
    this.scheduled = false;
    for (const [node, text] of this.pending) node.appendData(text);
    this.pending.clear();
    const tasks = this.tasks;
    this.tasks = [];
    for (const fn of tasks) fn();
    if (this.afterFlush) this.afterFlush();
  }

  drop(node) {
    this.pending.delete(node);
  }
}
