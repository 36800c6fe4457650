// Follow GET /jobs/{id}/events. fetch() rather than EventSource, because EventSource cannot send
// the Authorization header that a deployment with API keys may need.

import { authHeaders } from "./api.js";

const RETRY_MS = 2000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Parse an event stream into {event, data} objects as chunks arrive. */
async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      let data = null;
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data = (data ?? "") + line.slice(5).trimStart();
      }
      if (data !== null) yield { event, data: JSON.parse(data) };
    }
  }
}

/**
 * Call onProgress(data) for each progress event and onEnd(data) once at the end. A stream that
 * ends with `reconnect` or drops is opened again; a 4xx answer stops with onError.
 * Returns a function that stops following.
 */
export function followJob(jobId, { onProgress, onEnd, onError }) {
  const controller = new AbortController();
  let stopped = false;
  const url = `/jobs/${encodeURIComponent(jobId)}/events`;

  async function run() {
    while (!stopped) {
      try {
        const response = await fetch(url, {
          headers: { Accept: "text/event-stream", ...authHeaders() },
          signal: controller.signal,
        });
        if (!response.ok) {
          const body = await response.json().catch(() => null);
          const error = new Error(body?.message || `HTTP ${response.status}`);
          if (response.status < 500) {
            stopped = true;
            onError?.(error);
            return;
          }
          throw error;
        }
        for await (const { event, data } of readEvents(response.body)) {
          if (event === "progress") onProgress(data);
          else if (event === "end") {
            stopped = true;
            onEnd(data);
            return;
          }
        }
        // The stream closed after `reconnect` (its time limit) or dropped: open a new one.
      } catch (error) {
        if (stopped) return;
        onError?.(error);
        await sleep(RETRY_MS);
      }
    }
  }

  run();
  return () => {
    stopped = true;
    controller.abort();
  };
}
