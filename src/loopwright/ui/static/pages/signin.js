// Sign in by pasting an API key. The key is checked with GET /v1/me, then kept in this tab's
// sessionStorage only. An operator key also names the store to work in.
import { Api } from "../lib/api.js";
import { saveKey, saveStore } from "../lib/auth.js";
import { h } from "../lib/dom.js";
import { clearErrors, field, showErrors } from "../lib/forms.js";

export function render(root, { message, onSignedIn }) {
  const key = h("input", { type: "password", autocomplete: "off", spellcheck: "false", autofocus: true });
  const store = h("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "demo" });
  const submit = h("button.primary", { type: "submit" }, "Sign in");
  const form = h(
    "form.signin-form",
    { novalidate: true },
    field("API key", key, { name: "key", required: true, hint: "Kept in this browser tab only; sent only in the Authorization header." }),
    field("Store", store, { name: "store", hint: "Only for the operator key; a store's key knows its store." }),
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const value = key.value.trim();
    if (!value) return showErrors(form, { problems: [{ loc: ["key"], message: "Paste an API key." }] });
    submit.disabled = true;
    try {
      const api = new Api(value);
      const me = await api.get("/v1/me");
      let storeId = me.store_id;
      if (!storeId) {
        storeId = store.value.trim();
        if (!storeId) return showErrors(form, { problems: [{ loc: ["store"], message: "The operator key needs a store: enter its id." }] });
        await api.get(`/v1/stores/${encodeURIComponent(storeId)}`).catch((err) => {
          const message = err.status === 404 ? "No such store." : err.message;
          throw { problems: [{ loc: ["store"], message }], message };
        });
      }
      saveKey(value);
      saveStore(me.store_id ? null : storeId);
      key.value = "";
      onSignedIn();
    } catch (err) {
      const problems = err.problems?.length ? err.problems : [{ loc: ["key"], message: err.status === 401 ? "This key is not valid." : err.message }];
      showErrors(form, { problems, message: err.message });
    } finally {
      submit.disabled = false;
    }
  });
  root.append(
    h(
      "main.signin",
      { id: "main" },
      h(
        "div.signin-card",
        h("h1", "Loopwright"),
        h("p.muted", "Sign in with an API key. The server printed an admin key on its first start."),
        message ? h("p.notice", { role: "status" }, message) : null,
        form,
        h("p.muted.small", "API reference: ", h("a", { href: "/docs" }, "/docs")),
      ),
    ),
  );
  key.focus();
}
