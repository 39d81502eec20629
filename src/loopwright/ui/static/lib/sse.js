// Server-Sent Events over fetch, so the key travels in the Authorization header (EventSource
// cannot send headers, and a key in a URL would end up in logs). The stream resumes from the
// last seq it saw: on a dropped connection it reconnects with backoff and Last-Event-ID, so no
// event is lost or delivered twice. Token deltas (frames without an id) are live only.

import { connection } from "./connection.js";

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;

export class EventStream {
  /**
   * @param api       the Api client (key, store)
   * @param query     filters: {session_id, run_id, types}
   * @param after     the seq to start after (events with a larger seq are delivered)
   * @param onEvent   called with each event ({seq, type, session_id, run_id, payload, ...})
   * @param onClosed  called once if the server ends the stream for good (key deleted)
   */
  constructor(api, { query = {}, after = 0, onEvent, onClosed, label = "events" }) {
    this.api = api;
    this.query = query;
    this.lastSeq = after;
    this.onEvent = onEvent;
    this.onClosed = onClosed;
    this.label = label;
    this.stopped = false;
    this.controller = null;
    this.backoff = MIN_BACKOFF_MS;
    this.reconnects = 0;
    this.status = "connecting";
    connection.register(this);
    this.loop();
  }

  setStatus(status) {
    this.status = status;
    connection.update();
  }

  url() {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(this.query)) if (v) params.set(k, v);
    params.set("after", String(this.lastSeq));
    return `${this.api.s("/events")}?${params}`;
  }

  async loop() {
    while (!this.stopped) {
      this.controller = new AbortController();
      let failed = false;
      try {
        await this.readOnce(this.controller.signal);
      } catch (err) {
        failed = !this.stopped;
        if (err && err.fatal) {
          this.stop();
          if (this.onClosed) this.onClosed(err);
          return;
        }
      }
      if (this.stopped) break;
      this.setStatus("reconnecting");
      this.reconnects += 1;
      await new Promise((resolve) => setTimeout(resolve, failed ? this.backoff : MIN_BACKOFF_MS));
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    }
  }

  async readOnce(signal) {
    const headers = this.api.headers({ Accept: "text/event-stream" });
    if (this.lastSeq) headers["Last-Event-ID"] = String(this.lastSeq);
    const response = await fetch(this.url(), { headers, signal, cache: "no-store" });
    if (response.status === 401 || response.status === 404 || response.status === 403) {
      const error = new Error(`stream refused: HTTP ${response.status}`);
      error.fatal = true;
      throw error;
    }
    if (!response.ok || !response.body) throw new Error(`stream failed: HTTP ${response.status}`);
    this.setStatus("live");
    this.backoff = MIN_BACKOFF_MS;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let frame = { id: null, event: "message", data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (frame.data.length) this.dispatch(frame);
          frame = { id: null, event: "message", data: [] };
        } else if (line.startsWith(":")) {
          // heartbeat comment
        } else {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value2 = colon < 0 ? "" : line.slice(colon + 1);
          if (value2.startsWith(" ")) value2 = value2.slice(1);
          if (field === "data") frame.data.push(value2);
          else if (field === "event") frame.event = value2;
          else if (field === "id") frame.id = value2;
        }
      }
    }
  }

  dispatch(frame) {
    if (frame.event === "stream.closed") {
      const error = new Error("the stream was closed by the server");
      error.fatal = true;
      throw error;
    }
    let event;
    try {
      event = JSON.parse(frame.data.join("\n"));
    } catch {
      return;
    }
    if (frame.id !== null) {
      const seq = Number(frame.id);
      if (seq <= this.lastSeq) return; // already delivered before a reconnect
      this.lastSeq = seq;
    }
    try {
      this.onEvent(event);
    } catch (err) {
      console.error("event handler failed", err);
    }
  }

  /** Cut the current connection as a network failure would (it reconnects by itself). */
  drop() {
    if (this.controller) this.controller.abort();
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
    connection.unregister(this);
  }
}

/** The seq of the newest event in the store now (a stream started after it sees only news). */
export async function highWater(api) {
  const page = await api.get(api.s("/events"), { types: "none.none", limit: 1 });
  return page.next_after;
}
