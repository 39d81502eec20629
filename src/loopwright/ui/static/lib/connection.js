// The live-connection indicator's model: the open event streams and how they are doing.

const streams = new Set();
const listeners = new Set();

export const connection = {
  register(stream) {
    streams.add(stream);
    this.update();
  },
  unregister(stream) {
    streams.delete(stream);
    this.update();
  },
  /** "live", "reconnecting", "connecting" or "idle" (no stream open). */
  state() {
    if (!streams.size) return "idle";
    const states = [...streams].map((s) => s.status);
    if (states.includes("reconnecting")) return "reconnecting";
    if (states.includes("connecting")) return "connecting";
    return "live";
  },
  streams() {
    return [...streams];
  },
  subscribe(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
  update() {
    const state = this.state();
    for (const fn of listeners) fn(state);
  },
};

// For the end-to-end tests and the curious: cut every stream as a network failure would.
window.loopwright = Object.assign(window.loopwright || {}, {
  dropStreams() {
    for (const s of streams) s.drop();
    return streams.size;
  },
  streamStats() {
    return [...streams].map((s) => ({ label: s.label, lastSeq: s.lastSeq, reconnects: s.reconnects, status: s.status }));
  },
});
