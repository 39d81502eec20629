// The API client: JSON in and out, the key in the Authorization header, errors as ApiError
// carrying the server's {code, message, details}.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** 422 problems as [{loc, message}] (empty for other errors). */
  get problems() {
    return Array.isArray(this.details) ? this.details.filter((d) => d && Array.isArray(d.loc)) : [];
  }
}

export class Api {
  constructor(key, { onUnauthenticated } = {}) {
    this.key = key;
    this.store = null;
    this.onUnauthenticated = onUnauthenticated;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  /** A path under the current store: api.s("/agents") → /v1/stores/<store>/agents. */
  s(path) {
    return `/v1/stores/${encodeURIComponent(this.store)}${path}`;
  }

  async request(method, path, body, { signal, query } = {}) {
    let url = path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
      }
      const text = params.toString();
      if (text) url += (url.includes("?") ? "&" : "?") + text;
    }
    const init = { method, headers: this.headers(), signal };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network_error", "the server could not be reached", null);
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const e = (data && data.error) || {};
      const error = new ApiError(
        response.status,
        e.code || "http_error",
        e.message || `HTTP ${response.status}`,
        e.details ?? null,
      );
      if (response.status === 401 && this.onUnauthenticated) this.onUnauthenticated(error);
      throw error;
    }
    return data;
  }

  get(path, query, opts = {}) {
    return this.request("GET", path, undefined, { ...opts, query });
  }

  post(path, body, opts) {
    return this.request("POST", path, body ?? {}, opts);
  }

  patch(path, body, opts) {
    return this.request("PATCH", path, body, opts);
  }

  del(path, opts) {
    return this.request("DELETE", path, undefined, opts);
  }

  /** Every item of a paged list (up to `max`). */
  async all(path, query = {}, max = 1000) {
    const items = [];
    let cursor = null;
    do {
      const page = await this.get(path, { ...query, limit: 200, cursor });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < max);
    return items;
  }
}
