// Follow GET /events, the registry's changes (models, aliases, datasets, jobs): one stream for
// the whole page, read with fetch (sse.js says why). Each message's id is kept and sent back as
// Last-Event-ID when the stream is opened again, so nothing is missed across a reconnect.

import { authHeaders } from "./api.js";
import { readEvents, sleep } from "./sse.js";

const URL = "/events";
const RETRY_MS = 2000;

/**
 * Follow the registry's events until stopped:
 * - onOpen({resumed}): a stream is open; `resumed` when it carries on from the last id seen
 *   (no event was missed), false on a fresh start (changes before it are not replayed);
 * - onEvent(type, data): each event (`reset` included; `reconnect` only ends a stream, naming
 *   where the next one goes on);
 * - onLost(error): a stream failed or dropped; it is opened again after a pause;
 * - onUnavailable(status): the server answered 4xx (no /events, or no key): following stops.
 * Returns a function that stops following.
 */
export function followRegistry({ onOpen, onEvent, onLost, onUnavailable }) {
  const controller = new AbortController();
  let stopped = false;
  let lastId = null;

  async function run() {
    while (!stopped) {
      try {
        const headers = { Accept: "text/event-stream", ...authHeaders() };
        if (lastId !== null) headers["Last-Event-ID"] = lastId;
        const response = await fetch(URL, { headers, signal: controller.signal });
        if (!response.ok) {
          await response.body?.cancel();
          if (response.status < 500) {
            stopped = true;
            onUnavailable(response.status);
            return;
          }
          throw new Error(`${URL}: HTTP ${response.status}`);
        }
        onOpen({ resumed: lastId !== null });
        let messages = 0;
        for await (const { id, event, data } of readEvents(response.body)) {
          messages += 1;
          if (id !== null) lastId = id;
          if (event !== "reconnect") onEvent(event, data);
          else if (data.last_event_id != null) lastId = String(data.last_event_id);
        }
        // The stream ended (after `reconnect`, its time limit): open the next one, at once
        // unless it ended without a word.
        if (messages === 0) await sleep(RETRY_MS);
      } catch (error) {
        if (stopped) return;
        onLost(error);
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
