/**
 * The tickets a platform pushed (an Open Platform's component_verify_ticket,
 * a WeCom suite's suite_ticket): each works for its lifetime from the push,
 * a newer one does not retire the older ones, and the newest is "current".
 */
import type { Clock } from "../clock.js";

export class PushedTickets {
  private readonly expiry = new Map<string, number>();
  private newest: string | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly lifetimeMs: number,
    private readonly make: () => string,
  ) {}

  /** A new ticket, working from now (pushed or not). */
  issue(): string {
    const ticket = this.make();
    this.expiry.set(ticket, this.clock.now() + this.lifetimeMs);
    this.newest = ticket;
    return ticket;
  }

  /** The newest ticket while it works. */
  current(): string | undefined {
    return this.newest !== undefined && this.works(this.newest) ? this.newest : undefined;
  }

  /** Whether it is a ticket issued here and still within its lifetime. */
  works(ticket: unknown): boolean {
    const expiresAt = typeof ticket === "string" ? this.expiry.get(ticket) : undefined;
    return expiresAt !== undefined && this.clock.now() < expiresAt;
  }
}
