/** A server-sent events reader for tests: every event (id, event, data) and comment as it arrives. */
import { request } from "undici";

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface SseReader {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  events: SseEvent[];
  comments: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const abort = new AbortController();
  const res = await request(url, { headers: { accept: "text/event-stream", ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let buffer = "";
  const ended = (async () => {
    try {
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString("utf8");
        let at: number;
        while ((at = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const e: SseEvent = { event: "message", data: "" };
          let isEvent = false;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) comments.push(line.slice(1).trim());
            else if (line.startsWith("id: ")) ((e.id = line.slice(4)), (isEvent = true));
            else if (line.startsWith("event: ")) ((e.event = line.slice(7)), (isEvent = true));
            else if (line.startsWith("data: ")) ((e.data += line.slice(6)), (isEvent = true));
          }
          if (isEvent) events.push(e);
        }
      }
    } catch {
      // Aborted by close().
    }
  })();
  return { status: res.statusCode, headers: res.headers, events, comments, ended, close: () => abort.abort() };
}
