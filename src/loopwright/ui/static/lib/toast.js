// Toasts: results and failures of actions, in an aria-live region screen readers announce.
import { h } from "./dom.js";

const TTL_MS = 5000;

export function toast(message, kind = "info") {
  const region = document.getElementById("toasts");
  const close = h("button.icon", { type: "button", "aria-label": "Dismiss" }, "×");
  const item = h(`div.toast.toast-${kind}`, h("span", message), close);
  close.addEventListener("click", () => item.remove());
  region.append(item);
  setTimeout(() => item.remove(), kind === "error" ? TTL_MS * 2 : TTL_MS);
  return item;
}

toast.ok = (m) => toast(m, "ok");
toast.error = (m) => toast(m, "error");
