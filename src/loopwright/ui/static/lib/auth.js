// The API key lives in sessionStorage only (this tab, gone when it closes), is sent only in the
// Authorization header, and never appears in a URL or a log line. Sign-out clears it.
const KEY = "loopwright.key";
const STORE = "loopwright.store";

export function savedKey() {
  return sessionStorage.getItem(KEY);
}

export function saveKey(key) {
  sessionStorage.setItem(KEY, key);
}

/** The store an operator key acts in (a store key's store comes from /v1/me). */
export function savedStore() {
  return sessionStorage.getItem(STORE);
}

export function saveStore(store) {
  if (store) sessionStorage.setItem(STORE, store);
  else sessionStorage.removeItem(STORE);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(STORE);
}

export const ROLE_RANK = { readonly: 0, member: 1, admin: 2, operator: 3 };

/** Whether `role` may do what `needed` may. */
export function allows(role, needed) {
  return (ROLE_RANK[role] ?? -1) >= (ROLE_RANK[needed] ?? 99);
}
