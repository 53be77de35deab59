/**
 * JS-SDK tickets as WeChat (and WeCom) hand them out: while a ticket is
 * valid, every fetch answers the same ticket (with expires_in 7200 again, as
 * seen on the real service); a new one only once it has expired or was cut.
 * A ticket does not die with the token that fetched it.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";

interface Ticket {
  value: string;
  expiresAt: number;
}

export class TicketBook {
  private readonly tickets = new Map<string, Ticket>();

  constructor(private readonly clock: Clock) {}

  /** The owner's ticket of this type: the current one while valid, else a new one living lifetimeMs. */
  fetch(owner: string, type: string, lifetimeMs: number): string {
    const key = `${owner}\u0000${type}`;
    const now = this.clock.now();
    const held = this.tickets.get(key);
    if (held && now < held.expiresAt) return held.value;
    const value = `${type === "wx_card" ? "E0o2" : "sM4A"}${randomBytes(48).toString("base64url")}`;
    this.tickets.set(key, { value, expiresAt: now + lifetimeMs });
    return value;
  }

  /** The valid ticket, if any (for tests that check a signature). */
  current(owner: string, type: string): string | undefined {
    const held = this.tickets.get(`${owner}\u0000${type}`);
    return held && this.clock.now() < held.expiresAt ? held.value : undefined;
  }

  /** WeChat dropped the ticket early: the next fetch issues a new one. */
  invalidate(owner: string, type: string): void {
    this.tickets.delete(`${owner}\u0000${type}`);
  }
}
