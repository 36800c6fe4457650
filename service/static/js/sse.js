// Reading a Server-Sent Events body from fetch(): fetch rather than EventSource, because
// EventSource cannot send the Authorization header that a deployment with API keys may need.

/** Parse an event stream into {id, event, data} objects as chunks arrive (id is null when the
 * message has none; comments such as heartbeats are skipped). */
export async function* readEvents(body) {
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
      let id = null;
      let event = "message";
      let data = null;
      for (const line of block.split("\n")) {
        if (line.startsWith("id:")) id = line.slice(3).trim();
        else if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data = (data ?? "") + line.slice(5).trimStart();
      }
      if (data !== null) yield { id, event, data: JSON.parse(data) };
    }
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
