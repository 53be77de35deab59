/**
 * What ListCredentials (and `wxtoken status`, and the status page) shows of
 * each credential, the same for every transport: state, version and
 * fingerprint, times, the failure, the quota, the replica that obtained the
 * value. Never a token or ticket itself. In pages (AIP-158, as paging.ts):
 * the page token carries the last credential's order key and the filters it
 * was made for.
 */
import { CREDENTIAL_KIND_HELP, CREDENTIAL_STATE_HELP } from "@wxtoken/client";
import { stateOf, type CredentialStateName } from "../core/credential-index.js";
import type { CredentialKind } from "../core/credential-id.js";
import type { CredentialEngine } from "../core/engine.js";
import { wechatErrcode } from "../core/errors.js";
import type { Credential } from "../core/credential.js";
import { InvalidArgumentError } from "../errors.js";
import { decodeToken, encodeToken, pageSize } from "./paging.js";
import { validateAppId } from "./validate.js";

/** The most credentials a page looks at besides those it shows (a search, a caller's grants): a page's cost stays bounded. */
export const SCAN_BUDGET = 10_000;
export const MAX_SEARCH_LENGTH = 128;

/** What the caller asked for, with the enums already mapped from the transport's (null: a value this server does not know). */
export interface CredentialListArgs {
  pageSize?: unknown;
  pageToken?: unknown;
  appId?: unknown;
  kind?: CredentialKind | null;
  state?: CredentialStateName | null;
  search?: unknown;
}

export interface CredentialView {
  appId: string;
  agent: string | undefined;
  kind: CredentialKind;
  state: CredentialStateName;
  /** The component appid of the Open Platform it belongs to. */
  platform: string | undefined;
  version: number;
  fingerprint: string;
  obtainedAt: number | undefined;
  expiresAt: number | undefined;
  nextRefreshAt: number | undefined;
  failingSince: number | undefined;
  failedAttempts: number;
  lastErrorReason: string | undefined;
  lastErrorMessage: string | undefined;
  /** The errcode of WeChat's error answer, when the last failure was one. */
  lastErrorCode: number | undefined;
  quotaUsed: number;
  quotaLimit: number;
  refreshedBy: string | undefined;
}

export type CredentialCounts = Record<CredentialStateName | "total", number>;

export interface CredentialListView {
  credentials: CredentialView[];
  /** "" on the last page. */
  nextPageToken: string;
  totalSize: number | undefined;
  /** Only for a caller who may read every credential. */
  counts: CredentialCounts | undefined;
  /** The replica that answered; "" for one process. */
  replica: string;
}

/** Who may see what: every credential, or those `may` accepts. */
export type Visibility = { all: true } | { all: false; may: (c: Credential) => boolean };

const PLATFORM_LANE = "platform:";

/** The platform id of a platform's lane: "platform:<id>" for its tenants, "platform:<id>:component" for its own token. */
function platformOfLane(lane: string): string | undefined {
  if (!lane.startsWith(PLATFORM_LANE)) return undefined;
  const rest = lane.slice(PLATFORM_LANE.length);
  const end = rest.indexOf(":");
  return end < 0 ? rest : rest.slice(0, end);
}

export function credentialView(c: Credential): CredentialView {
  const s = c.snapshot();
  const t = s.latest;
  return {
    appId: c.id.appId,
    agent: c.id.agent,
    kind: c.id.kind,
    state: stateOf(c),
    platform: platformOfLane(c.lane.name),
    version: t?.version ?? 0,
    fingerprint: t?.fingerprint ?? "",
    obtainedAt: t?.obtainedAt,
    expiresAt: t?.expiresAt,
    nextRefreshAt: s.nextRefreshAt,
    failingSince: s.failure?.since,
    failedAttempts: s.failure?.attempts ?? 0,
    lastErrorReason: s.failure?.error.reason,
    lastErrorMessage: s.failure?.error.message,
    lastErrorCode: wechatErrcode(s.failure?.error),
    quotaUsed: s.quota.used,
    quotaLimit: s.quota.limit,
    refreshedBy: s.refreshedBy,
  };
}

function badToken(why: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `page_token ${why}: pass the next_page_token of the previous page unchanged, with the same app_id, kind_filter, state_filter and search, or none for the first page`,
    "INVALID_PAGE_TOKEN",
  );
}

/** The string a search matches: appid, agent, kind and platform, lowercased. */
function haystack(c: Credential): string {
  return `${c.id.appId}/${c.id.agent ?? ""}#${c.id.kind} ${c.lane.name}`.toLowerCase();
}

/** One page of credentials for a caller who sees `visible`. INVALID_ARGUMENT for a bad size, filter or token. */
export function listCredentials(engine: CredentialEngine, args: CredentialListArgs, visible: Visibility): CredentialListView {
  const limit = pageSize(args.pageSize);
  const appId = args.appId === undefined || args.appId === "" ? undefined : validateAppId(args.appId);
  if (args.kind === null) throw new InvalidArgumentError(`kind_filter is not a CredentialKind this server knows; valid kinds: ${CREDENTIAL_KIND_HELP}`, "INVALID_KIND");
  if (args.state === null) throw new InvalidArgumentError(`state_filter is not a CredentialState this server knows; valid states: ${CREDENTIAL_STATE_HELP}`, "INVALID_STATE_FILTER");
  const search = args.search ?? "";
  if (typeof search !== "string") throw new InvalidArgumentError("search must be a string", "INVALID_ARGUMENT");
  if (search.length > MAX_SEARCH_LENGTH) throw new InvalidArgumentError(`search must be at most ${MAX_SEARCH_LENGTH} characters`, "INVALID_ARGUMENT");
  // What the token must have been made for: the filters, in one string.
  const filters = JSON.stringify([appId ?? "", args.kind ?? "", args.state ?? "", search]);
  const token = args.pageToken ?? "";
  if (typeof token !== "string") throw badToken("must be a string");
  let after: string | undefined;
  if (token !== "") {
    const body = decodeToken(token);
    if (!body || typeof body.f !== "string" || typeof body.a !== "string" || body.a === "") throw badToken("is not a page token of this server");
    if (body.f !== filters) throw badToken("was made for other filters");
    after = body.a;
  }
  const needle = search.toLowerCase();
  const checks: ((c: Credential) => boolean)[] = [];
  if (needle !== "") checks.push((c) => haystack(c).includes(needle));
  if (!visible.all) checks.push(visible.may);
  const page = engine.index.page({
    after,
    limit,
    appId,
    kind: args.kind,
    state: args.state,
    accept: checks.length === 0 ? undefined : (c) => checks.every((check) => check(c)),
    budget: SCAN_BUDGET,
  });
  return {
    credentials: page.credentials.map(credentialView),
    nextPageToken: page.next === undefined ? "" : encodeToken({ f: filters, a: page.next }),
    totalSize: page.total,
    counts: visible.all ? engine.index.counts() : undefined,
    replica: engine.replicaId,
  };
}
