/**
 * A service provider's endpoints on WeCom's host (/cgi-bin/service/...): the
 * suites' token chain and the provider token. All POST JSON. For counts and
 * faults a request is about its suite (get_suite_token's suite_id, or the
 * suite whose suite_access_token it carries), "suite/corp" for the per-corp
 * calls (get_corp_token, get_auth_info), the provider corpid for
 * get_provider_token.
 *
 * The provider token is WeCom's: corpid + provider_secret; the same token
 * while valid (expires_in reads 7200); an unknown corpid answers 40013, a
 * wrong secret 40001.
 */
import type { Clock } from "../clock.js";
import { API_CONTENT_TYPE } from "./http.js";
import type { Route, WxRequest } from "./routes.js";
import { fail, type Outcome } from "./state.js";
import type { SuiteState } from "./suite-state.js";
import { TokenBook } from "./tokens.js";
import type { WeComApps } from "./wecom.js";

/** What the suite routes act on: every configured suite, and the providers' own tokens. */
export class SuiteBook implements WeComApps {
  private readonly providerTokens: TokenBook;

  constructor(
    readonly suites: ReadonlyMap<string, SuiteState>,
    private readonly providers: Readonly<Record<string, string>>,
    clock: Clock,
    private readonly expiresIn: number,
  ) {
    this.providerTokens = new TokenBook(clock, 0);
  }

  /** The suite that issued this suite_access_token (valid or not). */
  bySuiteToken(value: string | null): SuiteState | undefined {
    if (!value) return undefined;
    for (const suite of this.suites.values()) if (suite.ownsToken(value)) return suite;
    return undefined;
  }

  hasCorp(corpId: string): boolean {
    for (const suite of this.suites.values()) if (suite.hasCorp(corpId)) return true;
    return false;
  }

  agentOfSecret(corpId: string, secret: string): string | undefined {
    for (const suite of this.suites.values()) {
      const agent = suite.agentOfSecret(corpId, secret);
      if (agent !== undefined) return agent;
    }
    return undefined;
  }

  /** POST /cgi-bin/service/get_provider_token */
  providerToken(body: Record<string, unknown>): Outcome {
    const corpId = body["corpid"];
    const secret = typeof corpId === "string" ? this.providers[corpId] : undefined;
    if (secret === undefined) return fail(40013);
    if (body["provider_secret"] !== secret) return fail(40001);
    const record = this.providerTokens.current(corpId as string, "token") ?? this.providerTokens.issue(corpId as string, "token", this.expiresIn * 1000);
    return { ok: true, body: { errcode: 0, errmsg: "ok", provider_access_token: record.value, expires_in: this.expiresIn } };
  }
}

type Answer = (suite: SuiteState, body: Record<string, unknown>) => Outcome;

function bodyOf(req: WxRequest): Record<string, unknown> {
  const body = req.json();
  return body.ok ? body.value : {};
}

/** The suite a request is about: by suite_id in the body, or by its suite_access_token. */
function suiteOf(req: WxRequest, book: SuiteBook, byId: boolean): SuiteState | undefined {
  if (!byId) return book.bySuiteToken(req.query.get("suite_access_token"));
  const id = bodyOf(req)["suite_id"];
  return typeof id === "string" ? book.suites.get(id) : undefined;
}

const corpOf = (req: WxRequest): string | undefined => {
  const corp = bodyOf(req)["auth_corpid"];
  return typeof corp === "string" ? corp : undefined;
};

/**
 * A suite endpoint: byId (get_suite_token) finds the suite by suite_id, the
 * others by suite_access_token; perCorp ones are counted per "suite/corp".
 * An on-demand errcode (FakeSuite.failNext) comes first, then the token check.
 */
function suiteRoute(path: string, byId: boolean, perCorp: boolean, answer: Answer, tag?: string): [string, Route<SuiteBook>] {
  return [
    path,
    {
      contentType: API_CONTENT_TYPE,
      tokenEndpoint: false,
      ...(tag === undefined ? {} : { tag: () => tag }),
      appIdOf: (req, book) => {
        const suite = suiteOf(req, book, byId);
        const corp = perCorp ? corpOf(req) : undefined;
        return suite && (corp === undefined ? suite.suiteId : `${suite.suiteId}/${corp}`);
      },
      handle: (req, book) => {
        const suite = suiteOf(req, book, byId);
        if (!suite) return fail(byId ? 40083 : req.query.get("suite_access_token") ? 40082 : 41001);
        const fault = suite.faults.take(path, corpOf(req));
        if (fault) return fail(fault.errcode ?? -1);
        const refused = byId ? undefined : suite.checkSuiteToken(req.query.get("suite_access_token"));
        if (refused) return refused;
        if (req.method !== "POST") return fail(43002);
        const body = req.json();
        return body.ok ? answer(suite, body.value) : fail(47001);
      },
    },
  ];
}

const S = "/cgi-bin/service";

export const SUITE_ROUTES: ReadonlyMap<string, Route<SuiteBook>> = new Map<string, Route<SuiteBook>>([
  suiteRoute(`${S}/get_suite_token`, true, false, (s, b) => s.suiteToken(b), "suite-token"),
  suiteRoute(`${S}/get_permanent_code`, false, false, (s, b) => s.permanentCode(b, 1)),
  suiteRoute(`${S}/v2/get_permanent_code`, false, false, (s, b) => s.permanentCode(b, 2)),
  suiteRoute(`${S}/get_auth_info`, false, true, (s, b) => s.authInfo(b)),
  suiteRoute(`${S}/get_corp_token`, false, true, (s, b) => s.corpToken(b), "suite-corp-token"),
  [
    `${S}/get_provider_token`,
    {
      contentType: API_CONTENT_TYPE,
      tokenEndpoint: false,
      tag: () => "provider-token",
      appIdOf: (req) => {
        const corp = bodyOf(req)["corpid"];
        return typeof corp === "string" ? corp : undefined;
      },
      handle: (req, book) => {
        if (req.method !== "POST") return fail(43002);
        const body = req.json();
        return body.ok ? book.providerToken(body.value) : fail(47001);
      },
    },
  ],
]);
