// Calls to the JSON API: the pasted key as a bearer token; failures carry the server's message.

import { apiKey } from "./apikey.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }
}

/** [path, why] of each field the `errors` of the API's error shape name, e.g.
 * ["grid.learning_rate.1", "Must be ..."]. */
export function errorFields(errors) {
  const details = [];
  const walk = (node, path) => {
    if (Array.isArray(node)) details.push([path, node.join(" ")]);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) walk(value, path ? `${path}.${key}` : key);
    }
  };
  walk(errors, "");
  return details;
}

/** "message (field: why; ...)" from the API's error shape {code, status, message, errors}. */
function describe(status, body) {
  if (!body || typeof body !== "object") return `HTTP ${status}`;
  const details = errorFields(body.errors);
  const message = body.message || `HTTP ${status}`;
  const extra = details // what the message says already (e.g. what holds a model) is not repeated
    .filter(([, text]) => !message.includes(text) && !text.endsWith(message))
    .map(([path, text]) => `${path}: ${text}`)
    .slice(0, 3);
  return extra.length ? `${message} (${extra.join("; ")})` : message;
}

export function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** fetch `path` and return its JSON body; throws ApiError for any non-2xx answer. */
export async function api(path, options = {}) {
  return (await send(path, options)).data;
}

/**
 * One page of a listing: GET `path` with the query `params` (null values left out); returns
 * {items, next}, next being the X-Next-Page-Token of the following page (null on the last).
 */
export async function apiPage(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) query.set(name, String(value));
  }
  const { data, response } = await send(`${path}?${query}`);
  return { items: data, next: response.headers.get("X-Next-Page-Token") };
}

async function send(path, { method = "GET", json, body, contentType } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (contentType) {
    headers["Content-Type"] = contentType;
  }
  const response = await fetch(path, { method, headers, body });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, response };
}
