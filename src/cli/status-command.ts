/**
 * `wxtoken status`: every credential of a running server (those the caller
 * may read), read page by page with ListCredentials: a table by default,
 * or with --json the HTTP API's JSON shape. Never a token: fingerprints only.
 */
import {
  CREDENTIAL_STATE_HELP,
  CredentialKind,
  CredentialState,
  kindOf,
  stateSpellingsOf,
  TokenClient,
  type ClientAuthOptions,
  type CredentialStatus,
  type ListCredentialsResponse,
} from "@wxtoken/client";
import { credentialStatusJson } from "../http/proto-json.js";
import { parseWhich, tokenClientOptions } from "./client-commands.js";
import { UsageError } from "./flags.js";

export interface StatusCommandOptions {
  app?: string;
  kind?: string;
  state?: string;
  search?: string;
  json: boolean;
}

const PAGE_SIZE = 1000;

const stateName = (s: CredentialState) => stateSpellingsOf(s)?.name ?? String(s);
const kindName = (k: CredentialKind) => kindOf(k)?.name ?? String(k);

/** The reason, and WeChat's errcode when it answered one: "WECHAT_ERROR 40164". */
const lastError = (s: CredentialStatus) => (s.lastErrorCode ? `${s.lastErrorReason} ${s.lastErrorCode}` : s.lastErrorReason);

/** "in 1.9 h", "5 min ago": from now, on this machine's clock. */
function relative(at: Date | undefined, now: number): string {
  if (!at) return "";
  const s = Math.round((at.getTime() - now) / 1000);
  const a = Math.abs(s);
  const text = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 172_800 ? `${(a / 3600).toFixed(1)} h` : `${Math.round(a / 86_400)} d`;
  return a === 0 ? "now" : s > 0 ? `in ${text}` : `${text} ago`;
}

/** Columns padded to their widest cell. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}

function render(first: ListCredentialsResponse, all: CredentialStatus[]): string {
  const now = Date.now();
  const c = first.counts;
  const head = c
    ? `${c.total} credentials: ${c.ok} ok, ${c.failing} failing, ${c.down} down, ${c.idle} idle`
    : `${all.length} credentials this caller may read`;
  // A PLATFORM column (the Open Platform or WeCom suite a credential belongs to) only when one is listed:
  // a corp that installed two suites has a row under each, the same appid and kind.
  const platforms = all.some((s) => s.platform !== "");
  const rows = [["APP", ...(platforms ? ["PLATFORM"] : []), "AGENT", "KIND", "STATE", "VERSION", "FINGERPRINT", "EXPIRES", "NEXT REFRESH", "FAILING SINCE", "LAST ERROR", "QUOTA", "REFRESHED BY"]];
  for (const s of all) {
    rows.push([
      s.appId,
      ...(platforms ? [s.platform] : []),
      s.agent,
      kindName(s.kind),
      stateName(s.state),
      s.version ? `v${s.version}` : "",
      s.fingerprint,
      relative(s.expiresAt, now),
      relative(s.nextRefreshAt, now),
      s.failingSince ? `${relative(s.failingSince, now)} (${s.failedAttempts}x)` : "",
      lastError(s),
      `${s.quotaUsed}/${s.quotaLimit}`,
      s.refreshedBy,
    ]);
  }
  const replica = first.replica ? ` (answered by replica ${first.replica})` : "";
  return `${head}${replica}\n\n${all.length > 0 ? table(rows) : "(none match)\n"}`;
}

export async function statusCommand(addr: string, timeoutMs: number, auth: ClientAuthOptions, opts: StatusCommandOptions): Promise<void> {
  const state = opts.state === undefined ? undefined : stateSpellingsOf(opts.state)?.name;
  if (opts.state !== undefined && state === undefined) {
    throw new UsageError(`--state must be one of ${CREDENTIAL_STATE_HELP}, got "${opts.state.slice(0, 40)}"`);
  }
  const kind = opts.kind === undefined ? undefined : parseWhich(opts.kind, undefined).kind;
  const filters = { appId: opts.app, kind, state, search: opts.search };
  const client = new TokenClient(addr, tokenClientOptions(auth, timeoutMs));
  try {
    const first = await client.listCredentials({ ...filters, pageSize: PAGE_SIZE });
    const all = [...first.credentials];
    for (let token = first.nextPageToken; token !== ""; ) {
      const page = await client.listCredentials({ ...filters, pageSize: PAGE_SIZE, pageToken: token });
      all.push(...page.credentials);
      token = page.nextPageToken;
    }
    if (opts.json) {
      const out = { credentials: all.map(credentialStatusJson), ...(first.counts ? { counts: first.counts } : {}), ...(first.replica ? { replica: first.replica } : {}) };
      process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    } else {
      process.stdout.write(render(first, all));
    }
  } finally {
    client.raw.close();
  }
}
