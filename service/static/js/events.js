// Follow GET /jobs/{id}/events (read with fetch, as sse.js says why).

import { authHeaders } from "./api.js";
import { readEvents, sleep } from "./sse.js";

const RETRY_MS = 2000;

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
