/**
 * The pushed ticket of one platform, whichever family: the newest one WeChat
 * pushed (a component_verify_ticket lives 12 hours, a WeCom suite_ticket 30
 * minutes), kept in the platform store so that every replica and a restart
 * use it, and read back from there each time the platform token is bought
 * (another replica may hold a newer one). A ticket WeChat refused is not
 * used again. Its value is never logged (a fingerprint instead).
 */
import type { Clock } from "../clock.js";
import { fingerprint } from "../fingerprint.js";
import type { Logger } from "../log.js";
import type { FamilyFacts } from "./pushed-platform.js";
import type { PushOutcome } from "./receiver.js";
import type { PlatformStore, StoredTicket } from "./store.js";

/** Why no ticket can be used now. */
export type NoTicket = "none" | "expired" | "refused";

export class TicketHolder {
  private ticket: StoredTicket | undefined;
  /** A ticket WeChat refused (61005/61006, 40085): not used again. */
  private refusedValue: string | undefined;

  constructor(
    private readonly platformId: string,
    private readonly facts: FamilyFacts,
    private readonly store: PlatformStore,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** The newest ticket held, if any (expired ones too): its times only are ever shown. */
  held(): StoredTicket | undefined {
    return this.ticket;
  }

  /** The store's ticket at start; resolves with it. */
  async load(): Promise<StoredTicket | undefined> {
    this.ticket = await this.store.ticket(this.platformId);
    return this.ticket;
  }

  /** Whether the ticket held can be used now. */
  valid(): boolean {
    return this.problem(this.ticket) === undefined;
  }

  /**
   * The newest usable ticket, from the store (a replica may have stored a
   * newer one), or why there is none. A store that no longer holds any while
   * a valid one is held here lost it (evicted, flushed, a Redis back empty
   * not noticed yet): the one held is used and written back, since no API
   * asks WeChat for a push and the next may be far off.
   */
  async usable(): Promise<{ value: string } | { missing: NoTicket }> {
    const t = await this.store.ticket(this.platformId);
    if (t) this.ticket = t;
    else if (this.ticket && this.valid()) {
      const held = this.ticket;
      await this.restore(held);
      return { value: held.value };
    }
    const missing = this.problem(t);
    return missing === undefined ? { value: t!.value } : { missing };
  }

  /** WeChat refused the ticket: not used again. */
  refused(value: string): void {
    this.refusedValue = value;
    this.log.warn({ ticket: fingerprint(value) }, `WeChat refused the ${this.facts.ticketName}; waiting for a new push`);
  }

  /**
   * A ticket pushed (created at `createdAt`, ms): stored unless a later one is
   * held, durable before this resolves ("stored"), else "ignored". Rejects
   * when the store could not take it (WeChat then pushes again).
   */
  async pushed(value: string | undefined, createdAt: number): Promise<PushOutcome> {
    const name = this.facts.ticketName;
    if (!value) {
      this.log.warn(`${name} push without a ticket; ignored`);
      return "ignored";
    }
    const now = this.clock.now();
    const ticket: StoredTicket = { value, createdAt, receivedAt: now, expiresAt: now + this.facts.ticketLifetimeMs };
    if (!(await this.store.saveTicket(this.platformId, ticket))) {
      this.log.info({ ticket: fingerprint(value) }, `an older ${name} push; the newer one is kept`);
      return "ignored";
    }
    this.ticket = ticket;
    this.log.info({ ticket: fingerprint(value), expiresAt: new Date(ticket.expiresAt).toISOString() }, `${name} stored`);
    return "stored";
  }

  /**
   * After a change a replica made (or a reconnect): the store's ticket;
   * resolves whether it is a newer one than held. With `restoreLost`, a store
   * that lost the ticket (a Redis that restarted empty) gets the valid one
   * held here written back: no API asks WeCom for another, and the next push
   * may be 10 minutes away.
   */
  async reread(o: { restoreLost?: boolean } = {}): Promise<{ newer: boolean }> {
    const t = await this.store.ticket(this.platformId);
    if (!t && o.restoreLost && this.ticket && this.valid()) await this.restore(this.ticket);
    const newer = t !== undefined && (!this.ticket || t.createdAt > this.ticket.createdAt || t.value !== this.ticket.value);
    if (t) this.ticket = t;
    return { newer };
  }

  private async restore(held: StoredTicket): Promise<void> {
    const name = this.facts.ticketName;
    try {
      if (await this.store.saveTicket(this.platformId, held)) {
        this.log.warn({ ticket: fingerprint(held.value), expiresAt: new Date(held.expiresAt).toISOString() }, `the store had lost the ${name}: written back from memory`);
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, `could not write the lost ${name} back to the store; the next push stores one`);
    }
  }

  private problem(t: StoredTicket | undefined): NoTicket | undefined {
    if (!t) return "none";
    if (t.value === this.refusedValue) return "refused";
    return t.expiresAt <= this.clock.now() ? "expired" : undefined;
  }
}
