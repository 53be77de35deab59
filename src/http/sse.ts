/**
 * One server-sent events response (text/event-stream): the HTTP side of a
 * watch. Each value is an event with its version as the id (so an
 * EventSource that reconnects sends Last-Event-ID and gets nothing it has),
 * keepalive comments stop idle proxies from cutting it, and an error or a
 * shutdown ends it with an `error` event carrying a google.rpc.Status.
 */
import type { ServerResponse } from "node:http";
import type { Clock, TimerHandle } from "../clock.js";

export class EventStream {
  private keepalive: TimerHandle | undefined;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly keepaliveMs: number,
    private readonly clock: Clock,
    private readonly statusOf: (err: unknown) => Record<string, unknown>,
  ) {}

  /** A comment every keepaliveMs of the server's clock (so tests drive it with a fake one). */
  private scheduleKeepalive(): void {
    this.keepalive = this.clock.setTimeout(() => {
      if (this.ended) return;
      this.res.write(": keepalive\n\n");
      this.scheduleKeepalive();
    }, this.keepaliveMs);
  }

  /** Headers now: the subscription is accepted (before any value is due). */
  open(): void {
    if (this.ended || this.res.headersSent) return;
    this.res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      // Proxies (nginx) must not buffer the stream.
      "x-accel-buffering": "no",
    });
    // How long an EventSource waits before it reconnects.
    this.res.write("retry: 1000\n\n");
    this.scheduleKeepalive();
  }

  /** One event; false when the socket is full (the watcher then waits for 'drain'). */
  send(id: string, event: string, data: unknown): boolean {
    if (this.ended) return true;
    if (!this.res.headersSent) this.open();
    return this.res.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream with an `error` event (shutdown, removed app, revoked access). */
  fail(err: unknown): void {
    if (this.ended) return;
    if (!this.res.headersSent) this.open();
    this.res.write(`event: error\ndata: ${JSON.stringify(this.statusOf(err))}\n\n`);
    this.close();
  }

  /** Resolves once the response has ended and left (or the client went away). */
  finished(): Promise<void> {
    return new Promise((resolve) => {
      if (this.res.writableFinished || this.res.destroyed) return resolve();
      this.res.once("finish", () => resolve());
      this.res.once("close", () => resolve());
    });
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.keepalive) this.clock.clearTimeout(this.keepalive);
    this.res.end();
  }
}
