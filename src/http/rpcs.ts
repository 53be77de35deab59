/**
 * The RPC table: what each route does once its request is decoded, through
 * the same TokenApi the gRPC service calls (so grants, quota and errors are
 * the same), and the answer in proto3 JSON. WatchToken is the one stream: a
 * server-sent events response (sse.ts) fed by a TokenApi watcher.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TokenApi } from "../api/token-api.js";
import type { Clock } from "../clock.js";
import type { CallInfo, Principal } from "../core/access-policy.js";
import { credentialListArgs, kindFromProto, statusFilterFromProto, toProtoAuthorized, toProtoSigned } from "../grpc/convert.js";
import { toStatus } from "../grpc/status.js";
import { signatureKindFromProto } from "../grpc/token-service.js";
import { credentialListJson, DECODE, platformJson, syncJson, tokenJson } from "./json.js";
import { authorizedJson, signatureJson } from "./proto-json.js";
import { statusJson } from "./responses.js";
import type { Rpc } from "./routes.js";
import { EventStream } from "./sse.js";

type Fields = Record<string, unknown>;
type Json = Record<string, unknown>;
type Unary = (api: TokenApi, principal: Principal, fields: Fields, peer: string) => Json | Promise<Json>;

/** Every unary RPC the routes name, by name. */
export const UNARY: Record<Exclude<Rpc, "WatchToken">, Unary> = {
  GetToken: async (api, principal, fields) => {
    const r = DECODE.GetToken(fields);
    return { token: tokenJson(await api.getToken(principal, { appId: r.appId, agent: r.agent, kind: kindFromProto(r.kind), platformId: r.platformId })) };
  },
  ForceRefresh: async (api, principal, fields, peer) => {
    const r = DECODE.ForceRefresh(fields);
    const res = await api.forceRefresh(principal, { appId: r.appId, agent: r.agent, kind: kindFromProto(r.kind), platformId: r.platformId, staleToken: r.staleToken }, peer);
    return { token: tokenJson(res.token), ...(res.refreshed ? { refreshed: true } : {}) };
  },
  SignJsSdk: async (api, principal, fields) => {
    const r = DECODE.SignJsSdk(fields);
    const s = await api.signJsSdk(principal, { appId: r.appId, agent: r.agent, platformId: r.platformId, kind: signatureKindFromProto(r.kind), url: r.url, cardValues: r.cardValues });
    return signatureJson(toProtoSigned(s));
  },
  ListAuthorizers: (api, principal, fields) => {
    const r = DECODE.ListAuthorizers(fields);
    return platformJson(api.listAuthorizers(principal, { componentAppId: r.componentAppId, pageSize: r.pageSize, pageToken: r.pageToken, status: statusFilterFromProto(r.statusFilter) }));
  },
  SyncAuthorizers: async (api, principal, fields) => syncJson(await api.syncAuthorizers(principal, DECODE.SyncAuthorizers(fields).componentAppId)),
  AuthorizeByCode: async (api, principal, fields) => {
    const r = DECODE.AuthorizeByCode(fields);
    return authorizedJson(toProtoAuthorized(await api.authorizeByCode(principal, r.platformId, r.authCode)));
  },
  ListCredentials: (api, principal, fields) => credentialListJson(api.listCredentials(principal, credentialListArgs(DECODE.ListCredentials(fields)))),
};

/**
 * WatchToken as an event stream: resumes from Last-Event-ID when a
 * reconnecting EventSource sends one; the returned stream is open, and
 * `onClose` runs once the client has gone.
 */
export function watchTokenStream(
  api: TokenApi,
  req: IncomingMessage,
  res: ServerResponse,
  call: CallInfo,
  principal: Principal,
  fields: Fields,
  opts: { clock: Clock; keepaliveSeconds: number; onClose(stream: EventStream): void },
): EventStream {
  const r = DECODE.WatchToken(fields);
  // A reconnecting EventSource sends the last id it saw: the version it holds.
  const lastId = req.headers["last-event-id"];
  const resumed = typeof lastId === "string" && /^\d{1,15}$/.test(lastId);
  const resumeFrom = resumed ? Number(lastId) : r.knownVersion;
  // An EventSource reconnects with its first URL: a known_fingerprint there belongs to an older version.
  const fingerprint = resumed ? "" : r.knownFingerprint;
  const stream = new EventStream(res, opts.keepaliveSeconds * 1000, opts.clock, (err) => statusJson(toStatus(err, opts.clock.now())));
  const watcher = api.watch(call, principal, { appId: r.appId, agent: r.agent, kind: kindFromProto(r.kind), platformId: r.platformId }, { version: resumeFrom, fingerprint }, {
    write: (token) => stream.send(String(token.version), "token", { token: tokenJson(token) }),
    onDrain: (fn) => res.once("drain", fn),
    fail: (err) => stream.fail(err),
  });
  stream.open();
  res.on("close", () => {
    watcher.close();
    stream.close();
    opts.onClose(stream);
  });
  return stream;
}
