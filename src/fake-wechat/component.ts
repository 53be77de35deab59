/**
 * A fake Open Platform component (第三方平台): WeChat's side of it. It pushes
 * signed, encrypted component_verify_tickets and authorization events to the
 * platform's push URL (every pushIntervalMs on the injected clock, on
 * api_start_push_ticket, or on demand) and decides the component endpoints
 * (component-state.ts) that FakeWeChat serves when `component` is configured.
 */
import type { Clock } from "../clock.js";
import { messageXml, sealPush } from "../platform/push.js";
import { postPush, PushTimer, type SentPush } from "./push-sender.js";
import { ComponentState, type AuthorizerTokenProgress } from "./component-state.js";

export interface FakeComponentOptions {
  /** The component appid (also the receiver id inside every push). */
  appId: string;
  /** component_appsecret. */
  secret: string;
  /** The message-verification Token. */
  token: string;
  /** The 43-character EncodingAESKey. */
  encodingAesKey: string;
  /** Where pushes go; may be set later with `pushUrl =`. Without it nothing is pushed. */
  pushUrl?: string;
  /** How often a new ticket is pushed once the fake started; default 600_000 (10 minutes). */
  pushIntervalMs?: number;
  /** Seconds the component and authorizer tokens live; default 7200. */
  expiresIn?: number;
  /** How long a pushed ticket works; default 12 hours. */
  ticketLifetimeMs?: number;
  /** How long an authorization code can be exchanged; default 3_600_000. */
  authCodeLifetimeMs?: number;
  /** Accounts already authorized at construction: appid -> { funcInfo ids }. */
  authorizers?: Record<string, { funcInfo?: number[] }>;
  /** This many more authorized at construction, named seededAuthorizerAppId(0 .. n-1) (`wx` and 16 hex digits): a platform at scale. */
  seedAuthorizers?: number;
}

/** What the receiver answered a push (push-sender.ts: the suite's pushes are sent the same way). */
export type PushResult = SentPush;

export class FakeComponent {
  readonly state: ComponentState;
  /** The push URL; undefined: pushes are skipped by the timer and rejected by pushTicket(). */
  pushUrl: string | undefined;
  /** The periodic ticket push, and the count of background pushes that failed. */
  private readonly pushes: PushTimer;

  constructor(
    private readonly o: FakeComponentOptions,
    private readonly clock: Clock,
    overlapMs: number,
  ) {
    this.pushUrl = o.pushUrl;
    this.pushes = new PushTimer(clock, o.pushIntervalMs ?? 600_000, () => (this.pushUrl !== undefined ? this.pushTicket() : undefined));
    this.state = new ComponentState({
      appId: o.appId,
      secret: o.secret,
      clock,
      overlapMs,
      expiresIn: o.expiresIn ?? 7200,
      ticketLifetimeMs: o.ticketLifetimeMs ?? 43_200_000,
      authCodeLifetimeMs: o.authCodeLifetimeMs ?? 3_600_000,
      authorizers: Object.fromEntries(Object.entries(o.authorizers ?? {}).map(([id, a]) => [id, a.funcInfo ?? [1, 15, 4, 7, 2, 3, 11, 6]])),
    });
    if (o.seedAuthorizers) this.state.seedAuthorizers(o.seedAuthorizers);
    this.state.onStartPush = () => {
      // "Soon": after the answer is written, in real time.
      setImmediate(() => this.pushes.background(() => this.pushTicket()));
    };
  }

  get appId(): string {
    return this.o.appId;
  }

  /** Pushes a new component_verify_ticket; resolves with what the receiver answered. The ticket works whatever it answered. */
  pushTicket(): Promise<PushResult> {
    const now = this.clock.now();
    const ticket = this.state.newTicket();
    return this.push({ AppId: this.o.appId, CreateTime: Math.floor(now / 1000), InfoType: "component_verify_ticket", ComponentVerifyTicket: ticket });
  }

  /** The account's admin authorizes (again: `updateauthorized`): a new code and refresh token, pushed as an event. */
  authorize(authorizerAppId: string): Promise<PushResult & { authorizationCode: string }> {
    const now = this.clock.now();
    const { code, expiresAt, update } = this.state.authorize(authorizerAppId);
    return this.push({
      AppId: this.o.appId,
      CreateTime: Math.floor(now / 1000),
      InfoType: update ? "updateauthorized" : "authorized",
      AuthorizerAppid: authorizerAppId,
      AuthorizationCode: code,
      AuthorizationCodeExpiredTime: Math.floor(expiresAt / 1000),
      PreAuthCode: `preauthcode@@@${code.slice(-20)}`,
    }).then((r) => ({ ...r, authorizationCode: code }));
  }

  /** The account de-authorizes: its refresh and access tokens stop working, and `unauthorized` is pushed. */
  deauthorize(authorizerAppId: string): Promise<PushResult> {
    const now = this.clock.now();
    if (!this.state.deauthorize(authorizerAppId)) return Promise.reject(new Error(`FakeComponent: ${authorizerAppId} is not authorized`));
    return this.push({ AppId: this.o.appId, CreateTime: Math.floor(now / 1000), InfoType: "unauthorized", AuthorizerAppid: authorizerAppId });
  }

  /** The account's next api_authorizer_token answer carries a new refresh token (and retires the old one). */
  rotateRefreshTokenOnNextRefresh(authorizerAppId: string): void {
    this.state.rotateNext.add(authorizerAppId);
  }

  /**
   * n more accounts authorized at once, as a platform that already has them
   * (nothing is pushed: the list knows them). Their appids are
   * seededAuthorizerAppId(k) for the next n values of k; returns the first
   * and last.
   */
  seedAuthorizers(n: number): { first: string; last: string } {
    const made = this.state.seedAuthorizers(n);
    if (!made) throw new RangeError("FakeComponent.seedAuthorizers: n must be a positive integer");
    return made;
  }

  /** Authorized accounts, those issued an access token, and refreshes since: how far a restore or a refresh wave got. */
  tokenProgress(): AuthorizerTokenProgress {
    return this.state.tokenProgress();
  }

  /** The newest pushed ticket while it works. */
  currentTicket(): string | undefined {
    return this.state.currentTicket();
  }

  /** The account's current refresh token (what query_auth hands out), if authorized. */
  refreshTokenOf(authorizerAppId: string): string | undefined {
    return this.state.refreshTokenOf(authorizerAppId);
  }

  isAuthorizerTokenValid(authorizerAppId: string, token: string): boolean {
    return this.state.isAuthorizerTokenValid(authorizerAppId, token);
  }

  isComponentTokenValid(token: string): boolean {
    return this.state.isComponentTokenValid(token);
  }

  /** Timer and start_push_ticket pushes that failed (no answer, or not 200 "success"). */
  get pushFailures(): number {
    return this.pushes.failures;
  }

  /** Starts the periodic push (FakeWeChat.start() calls it). */
  startTimer(): void {
    this.pushes.start();
  }

  /** Stops the periodic push and waits for pushes in flight (FakeWeChat.close() calls it). */
  stop(): Promise<void> {
    return this.pushes.stop();
  }

  private push(fields: Record<string, string | number>): Promise<PushResult> {
    return this.send(fields);
  }

  /**
   * Pushes a message with exactly these fields (signed and encrypted as
   * WeChat does), with no change to the fake's state: for pushes out of
   * order, late, or of types WeChat may add.
   */
  async send(fields: Record<string, string | number>): Promise<PushResult> {
    if (this.pushUrl === undefined) throw new Error("FakeComponent: no pushUrl set");
    const sealed = sealPush({ token: this.o.token, encodingAesKey: this.o.encodingAesKey, receiverId: this.o.appId }, messageXml(fields), Math.floor(this.clock.now() / 1000));
    return postPush(this.pushUrl, sealed, fields);
  }
}
