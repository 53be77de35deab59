/**
 * Label values are bounded: every label of every wxtoken_* metric takes its
 * values from a fixed set (the proto's methods, status names, the errcode
 * tables, listener and stream names) or from the config (app ids, agents,
 * component appids). Whatever a client or WeChat sends is looked up and,
 * when it is not one of those, collapses into "other": no request can make
 * a series of its own. An Open Platform's accounts (up to 100,000 and more)
 * are counted under their platform's group, never one series each.
 */
import { KNOWN_INFO_TYPES } from "../openplatform/types.js";
import { SUITE_INFO_TYPES } from "../wecomsuite/types.js";
import { status } from "@grpc/grpc-js";
import { TokenServiceService } from "../../generated/wxtoken/v1/token_service.js";
import { WeChatError } from "../upstream/errors.js";

/** What a value outside its label's fixed set is counted as. */
export const OTHER = "other";

/** The TokenService's methods, from the generated service definition (a new RPC is known without a change here). */
const RPC_METHODS: ReadonlySet<string> = new Set(Object.values(TokenServiceService).map((m) => m.path.slice(m.path.lastIndexOf("/") + 1)));

/** The method label: a TokenService method, or "other" (an HTTP request that matched no route, say). */
export function methodLabel(method: string): string {
  return RPC_METHODS.has(method) ? method : OTHER;
}

/** The code label: a gRPC status code's name. */
export function codeLabel(code: status): string {
  return status[code] ?? OTHER;
}

/**
 * The errcode label of a failed upstream fetch: an errcode the endpoint's
 * table documents, "quota_guard" (refused by our own limits), "transport"
 * (timeout, connection, HTTP status, bad body), or "other" for an errcode
 * no table knows: WeChat (or whatever answers in its place) cannot mint series.
 */
export function errcodeLabel(err: unknown): string {
  if (err instanceof WeChatError) return err.known ? String(err.errcode) : OTHER;
  if (err instanceof Error && err.name === "QuotaGuardError") return "quota_guard";
  return "transport";
}

/** The InfoTypes some platform family acts on: any other push is labelled "other". */
const KNOWN_PUSH_TYPES: ReadonlySet<string> = new Set([...KNOWN_INFO_TYPES, ...SUITE_INFO_TYPES]);

/**
 * A push's InfoType as a metric label: the text comes from the push, so one
 * no family acts on is "other" (labels stay a handful, whatever is sent);
 * "" when the push was refused before its InfoType was read.
 */
export function infoTypeLabel(infoType: string | undefined): string {
  if (infoType === undefined) return "";
  return KNOWN_PUSH_TYPES.has(infoType) ? infoType : "other";
}
