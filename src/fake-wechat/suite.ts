/**
 * A fake WeCom service provider's suite (第三方应用, or a 代开发 template):
 * WeCom's side of it. It pushes signed, encrypted suite_tickets to the
 * suite's 指令回调URL every pushIntervalMs on the injected clock (WeCom: every
 * 10 minutes; no API asks for one, so tests and the console's 刷新ticket
 * button call pushTicket()), and the install events on demand: create_auth,
 * change_auth, cancel_auth, reset_permanent_code (代开发 only). verifyUrl()
 * is the console's check of the 指令回调URL when it is saved. An install
 * started on the provider's own site pushes nothing: its auth code arrives on
 * the redirect_uri (installByRedirect()). The endpoints are suite-state.ts's.
 *
 * WeCom wants create_auth answered within 1000 ms: a later answer is flagged
 * (`late`, lateAnswers) rather than refused, so a test can see it.
 */
import type { Clock } from "../clock.js";
import { messageXml, sealPush, type PushKeys } from "../platform/push.js";
import { checkUrl, postPush, PushTimer, type SentPush, type UrlCheck } from "./push-sender.js";
import { SuiteBook } from "./suite-routes.js";
import { SuiteState, SuiteStateError, type InstalledCorp } from "./suite-state.js";
import type { WeComState } from "./wecom.js";

export interface FakeSuiteOptions {
  /** The suite id, or a 代开发 template id (they start with "dk"): also the receiver id inside every push. */
  suiteId: string;
  /** suite_secret. */
  secret: string;
  /** The callback Token. */
  token: string;
  /** The callback's 43-character EncodingAESKey. */
  encodingAesKey: string;
  /** The 指令回调URL; may be set later with `pushUrl =`. Without it the timer pushes nothing. */
  pushUrl?: string;
  /** How often a new suite_ticket is pushed once the fake started; default 600_000 (10 minutes). */
  pushIntervalMs?: number;
  /** How long a suite_ticket works; default 1_800_000 (30 minutes). */
  ticketLifetimeMs?: number;
  /** How long an auth code can be exchanged; default 600_000 (10 minutes). */
  authCodeLifetimeMs?: number;
  /** Seconds the suite_access_token lives; default 7200. */
  expiresIn?: number;
  /** A 代开发 template (its id must start with "dk"); default: whether the id does. */
  customized?: boolean;
  /** How fast create_auth must be answered (real time) not to be flagged late; default 1000, WeCom's limit. */
  createAuthAnswerMs?: number;
  /** Corps that installed it before the fake started (no push): corpid -> details. Their permanent codes: permanentCodeOf(). */
  corps?: Record<string, { corpName?: string }>;
}

export type SuitePushResult = SentPush & {
  /** A create_auth answered later than createAuthAnswerMs (WeCom's limit: 1000 ms). */
  late: boolean;
  resend(): Promise<SuitePushResult>;
};

const S = "/cgi-bin/service";
/** Where failNext() aims an errcode unless told: the call that meets it first in WeCom's chain. */
const FAULT_PATHS: Readonly<Record<number, string>> = { 40085: `${S}/get_suite_token`, 42009: `${S}/get_corp_token`, 40082: `${S}/get_corp_token`, 48004: `${S}/get_corp_token` };

export class FakeSuite {
  readonly state: SuiteState;
  /** The 指令回调URL; undefined: the timer skips, and pushes on demand throw. */
  pushUrl: string | undefined;
  private readonly timer: PushTimer;
  private late = 0;

  constructor(
    private readonly o: FakeSuiteOptions,
    private readonly clock: Clock,
    wecom: WeComState,
    newAgentId: () => number,
  ) {
    const customized = o.customized ?? o.suiteId.startsWith("dk");
    if (customized && !o.suiteId.startsWith("dk")) throw new RangeError(`suite ${o.suiteId}: a 代开发 template id starts with "dk"`);
    this.pushUrl = o.pushUrl;
    this.state = new SuiteState({
      suiteId: o.suiteId,
      secret: o.secret,
      clock,
      customized,
      expiresIn: o.expiresIn ?? 7200,
      ticketLifetimeMs: o.ticketLifetimeMs ?? 1_800_000,
      authCodeLifetimeMs: o.authCodeLifetimeMs ?? 600_000,
      wecom,
      newAgentId,
    });
    for (const [corpId, corp] of Object.entries(o.corps ?? {})) this.state.install(corpId, corp.corpName);
    this.timer = new PushTimer(clock, o.pushIntervalMs ?? 600_000, () => (this.pushUrl === undefined ? undefined : this.pushTicket()));
  }

  get suiteId(): string {
    return this.o.suiteId;
  }

  /** Pushes a new suite_ticket (the console's 刷新ticket); it works whatever the receiver answered. */
  async pushTicket(): Promise<SuitePushResult> {
    this.target();
    const ticket = this.state.newTicket();
    return this.send({ SuiteId: this.o.suiteId, InfoType: "suite_ticket", TimeStamp: this.seconds(), SuiteTicket: ticket });
  }

  /** The corp's admin installs the app from WeCom: create_auth with a single-use AuthCode. */
  async install(corpId: string, o: { corpName?: string; state?: string } = {}): Promise<SuitePushResult & { authCode: string }> {
    this.target();
    const { code } = this.state.install(corpId, o.corpName);
    const r = await this.send({ SuiteId: this.o.suiteId, AuthCode: code, InfoType: "create_auth", TimeStamp: this.seconds(), ...(o.state === undefined ? {} : { State: o.state }) });
    return { ...r, authCode: code };
  }

  /** The install started on the provider's site: no push, the auth_code the browser brings to the redirect_uri. */
  installByRedirect(corpId: string, o: { corpName?: string } = {}): { authCode: string; expiresAt: number } {
    const { code, expiresAt } = this.state.install(corpId, o.corpName);
    return { authCode: code, expiresAt };
  }

  /**
   * The console's 验证URL when the 指令回调URL is saved: a GET with an
   * echostr encrypted and signed with this suite's Token, EncodingAESKey and
   * id (as its pushes are), ok when the receiver answers it decrypted. No
   * state changes; throws SuiteStateError without a pushUrl.
   */
  async verifyUrl(): Promise<UrlCheck> {
    return checkUrl(this.target(), this.keys(), this.seconds());
  }

  /** The corp changed the app's authorization: change_auth (get_auth_info then shows the change). */
  async change(corpId: string, changes: { agentName?: string } = {}): Promise<SuitePushResult> {
    this.target();
    if (!this.state.change(corpId, changes)) throw this.notInstalled(corpId);
    return this.send({ SuiteId: this.o.suiteId, InfoType: "change_auth", TimeStamp: this.seconds(), AuthCorpId: corpId });
  }

  /** The corp uninstalled: cancel_auth; its permanent code (48004 from now) and tokens stop working. */
  async cancel(corpId: string): Promise<SuitePushResult> {
    this.target();
    if (!this.state.cancel(corpId)) throw this.notInstalled(corpId);
    return this.send({ SuiteId: this.o.suiteId, InfoType: "cancel_auth", TimeStamp: this.seconds(), AuthCorpId: corpId });
  }

  /** 代开发 only: reset_permanent_code with an AuthCode; its exchange gives a new permanent code and retires the old one. */
  async resetPermanentCode(corpId: string): Promise<SuitePushResult & { authCode: string }> {
    this.target();
    const { code } = this.state.reset(corpId);
    const r = await this.send({ SuiteId: this.o.suiteId, AuthCode: code, InfoType: "reset_permanent_code", TimeStamp: this.seconds() });
    return { ...r, authCode: code };
  }

  /**
   * The next `times` calls to `path` answer `errcode` (for this suite, and
   * the corp's calls only when corpId is given). Without a path: 40085 on
   * get_suite_token, 42009, 40082 and 48004 on get_corp_token; "*" is every
   * suite endpoint.
   */
  failNext(errcode: number, o: { times?: number; path?: string; corpId?: string } = {}): void {
    const path = o.path ?? FAULT_PATHS[errcode];
    if (path === undefined) throw new RangeError(`FakeSuite.failNext: give a path for errcode ${errcode}`);
    this.state.faults.add({ path, errcode, times: o.times ?? 1, ...(o.corpId === undefined ? {} : { appId: o.corpId }) });
  }

  /** The newest pushed ticket while it works. */
  currentTicket(): string | undefined {
    return this.state.currentTicket();
  }

  /** The corp's permanent code (the working one, or its last after it uninstalled); what a test server must have kept. */
  permanentCodeOf(corpId: string): string | undefined {
    return this.state.corp(corpId)?.permanentCode;
  }

  /** The corp's install: agentid, names, whether installed (no secrets). */
  corp(corpId: string): Omit<InstalledCorp, "permanentCode"> | undefined {
    const c = this.state.corp(corpId);
    if (!c) return undefined;
    const { permanentCode: _, ...rest } = c;
    return rest;
  }

  installedCorps(): string[] {
    return this.state.installedCorps();
  }

  isSuiteTokenValid(token: string): boolean {
    return this.state.isSuiteTokenValid(token);
  }

  /** Timer pushes that failed (no answer, or not 200 "success"). */
  get pushFailures(): number {
    return this.timer.failures;
  }

  /** create_auth pushes (resends included) answered later than createAuthAnswerMs. */
  get lateAnswers(): number {
    return this.late;
  }

  /** Starts the periodic suite_ticket push (FakeWeChat.start() calls it). */
  startTimer(): void {
    this.timer.start();
  }

  /** Stops the periodic push and waits for pushes in flight (FakeWeChat.close() calls it). */
  stop(): Promise<void> {
    return this.timer.stop();
  }

  /**
   * Pushes a message with exactly these fields (signed and encrypted as WeCom
   * does, `<ToUserName>` the suite id), with no change to the fake's state:
   * for pushes out of order, late, or of types WeCom may add.
   */
  async send(fields: Record<string, string | number>): Promise<SuitePushResult> {
    const pushUrl = this.target();
    const sealed = sealPush(this.keys(), messageXml(fields), this.seconds(), undefined, "wecom");
    return this.judged(await postPush(pushUrl, sealed, fields));
  }

  /** What its pushes and URL checks are signed and encrypted with; the receiver id is the suite id. */
  private keys(): PushKeys {
    return { token: this.o.token, encodingAesKey: this.o.encodingAesKey, receiverId: this.o.suiteId };
  }

  /** The push URL, checked before a push changes any state. */
  private target(): string {
    if (this.pushUrl === undefined) throw new SuiteStateError(`FakeSuite ${this.o.suiteId}: no pushUrl set`);
    return this.pushUrl;
  }

  private notInstalled(corpId: string): SuiteStateError {
    return new SuiteStateError(`FakeSuite ${this.o.suiteId}: ${corpId} has not installed it`);
  }

  private judged(sent: SentPush): SuitePushResult {
    const late = sent.fields["InfoType"] === "create_auth" && sent.elapsedMs > (this.o.createAuthAnswerMs ?? 1000);
    if (late) this.late++;
    return { ...sent, late, resend: async () => this.judged(await sent.resend()) };
  }

  private seconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }
}

/** Suite apps' agentids start above this, so they do not meet a configured WeCom corp's own agents ("1000002", ...). */
const FIRST_SUITE_AGENT_ID = 3_000_001;

/** The fake's suites by id and what their routes act on; WeCom's gettoken learns their corps (a 代开发 app's secret is its permanent code). */
export function makeSuites(options: FakeSuiteOptions[], providers: Record<string, string>, clock: Clock, wecom: WeComState): { suites: Map<string, FakeSuite>; book: SuiteBook } {
  let agentId = FIRST_SUITE_AGENT_ID;
  const suites = new Map<string, FakeSuite>();
  for (const o of options) {
    if (suites.has(o.suiteId)) throw new RangeError(`suites: ${o.suiteId} given twice`);
    suites.set(o.suiteId, new FakeSuite(o, clock, wecom, () => agentId++));
  }
  const book = new SuiteBook(new Map([...suites].map(([id, s]) => [id, s.state])), providers, clock, 7200);
  wecom.apps.push(book);
  return { suites, book };
}
