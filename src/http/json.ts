/**
 * The proto3 JSON mapping for the messages the HTTP API carries: the field
 * names buf curl prints (lowerCamelCase; the proto names are accepted too),
 * enums by name, timestamps as RFC 3339, 64-bit integers as strings, default
 * values left out. Unknown fields and wrong types are refused, as proto3 JSON
 * parsers do.
 */
import {
  AuthorizeByCodeRequest,
  ForceRefreshRequest,
  GetTokenRequest,
  ListAuthorizersRequest,
  ListCredentialsRequest,
  SyncAuthorizersRequest,
  SignJsSdkRequest,
  WatchTokenRequest,
} from "../../generated/wxtoken/v1/token_service.js";
import { CREDENTIAL_KIND_HELP, CREDENTIAL_STATE_HELP, kindOf, stateSpellingsOf } from "@wxtoken/client";
import * as protoJson from "./proto-json.js";
import { InvalidArgumentError } from "../errors.js";
import { toProtoCredentialList, toProtoPlatform, toProtoSync, toProtoToken } from "../grpc/convert.js";
import type { CredentialListView } from "../api/credentials.js";
import type { PlatformView, SyncView } from "../api/platforms.js";
import type { CredentialRecord } from "../core/credential-id.js";

/** "kind", "state": a CredentialKind (kinds.ts) or CredentialState (states.ts) in any spelling, passed on as the enum's name. */
type FieldType = "string" | "enum" | "kind" | "state" | "int" | "int32" | "strings";

const FIELDS: Record<string, Record<string, FieldType>> = {
  GetToken: { appId: "string", kind: "kind", agent: "string", platformId: "string" },
  ForceRefresh: { appId: "string", staleToken: "string", kind: "kind", agent: "string", platformId: "string" },
  WatchToken: { appId: "string", knownVersion: "int", knownFingerprint: "string", kind: "kind", agent: "string", platformId: "string" },
  SignJsSdk: { appId: "string", agent: "string", kind: "enum", url: "string", cardValues: "strings", platformId: "string" },
  ListAuthorizers: { componentAppId: "string", pageSize: "int32", pageToken: "string", statusFilter: "enum" },
  SyncAuthorizers: { componentAppId: "string" },
  AuthorizeByCode: { platformId: "string", authCode: "string" },
  ListCredentials: { pageSize: "int32", pageToken: "string", appId: "string", kindFilter: "kind", stateFilter: "state", search: "string" },
};

const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function typeOk(type: FieldType, v: unknown): boolean {
  switch (type) {
    case "string":
      return typeof v === "string";
    case "enum":
    case "kind":
    case "state":
      return typeof v === "string" || Number.isInteger(v);
    case "int":
      return (typeof v === "string" && /^\d{1,20}$/.test(v)) || (Number.isSafeInteger(v) && (v as number) >= 0);
    case "int32": {
      // Signed, in range, as proto3 JSON has it: the API, not the parser, says what a negative page_size means.
      const n = typeof v === "string" && /^-?\d{1,10}$/.test(v) ? Number(v) : v;
      return Number.isInteger(n) && (n as number) >= -(2 ** 31) && (n as number) < 2 ** 31;
    }
    case "strings":
      return Array.isArray(v) && v.every((x) => typeof x === "string");
  }
}

/** The request fields from the JSON body, the query and the path, checked, in camelCase. */
export function requestFields(rpc: keyof typeof FIELDS, sources: Record<string, unknown>[]): Record<string, unknown> {
  const fields = FIELDS[rpc]!;
  const out: Record<string, unknown> = {};
  for (const source of sources) {
    for (const [name, value] of Object.entries(source)) {
      const key = camel(name);
      const type = fields[key];
      if (!type) throw new InvalidArgumentError(`unknown field "${name.slice(0, 64)}"`, "INVALID_ARGUMENT");
      if (!typeOk(type, value)) throw new InvalidArgumentError(`field "${name}" must be ${type === "strings" ? "an array of strings" : type === "int" ? "a non-negative integer" : type === "int32" ? "a 32-bit integer" : type === "enum" || type === "state" ? "an enum name or number" : "a string"}`, "INVALID_ARGUMENT");
      out[key] = type === "kind" ? kindField(name, value) : type === "state" ? stateField(name, value) : value;
    }
  }
  return out;
}

/**
 * A kind as the HTTP API takes it: short ("jsapi"), long ("jsapi_ticket"),
 * the enum's name or number; unset (0, CREDENTIAL_KIND_UNSPECIFIED) stays
 * unset (for kind_filter: every kind).
 */
function kindField(name: string, value: unknown): unknown {
  if (value === 0 || value === "0" || value === "CREDENTIAL_KIND_UNSPECIFIED") return value;
  const row = kindOf(value);
  if (!row) throw new InvalidArgumentError(`field "${name}" is not a credential kind: ${JSON.stringify(String(value)).slice(0, 60)}; valid kinds: ${CREDENTIAL_KIND_HELP}`, "INVALID_KIND");
  return row.enumName;
}

/** A state as the HTTP API takes it: its name ("down"), the enum's name or number; unset (0, CREDENTIAL_STATE_UNSPECIFIED) stays unset: every state. */
function stateField(name: string, value: unknown): unknown {
  if (value === 0 || value === "0" || value === "CREDENTIAL_STATE_UNSPECIFIED") return value;
  const row = stateSpellingsOf(value);
  if (!row) throw new InvalidArgumentError(`field "${name}" is not a credential state: ${JSON.stringify(String(value)).slice(0, 60)}; valid states: ${CREDENTIAL_STATE_HELP}`, "INVALID_STATE_FILTER");
  return row.enumName;
}

export const DECODE = {
  GetToken: (o: Record<string, unknown>) => GetTokenRequest.fromJSON(o),
  ForceRefresh: (o: Record<string, unknown>) => ForceRefreshRequest.fromJSON(o),
  WatchToken: (o: Record<string, unknown>) => WatchTokenRequest.fromJSON(o),
  SignJsSdk: (o: Record<string, unknown>) => SignJsSdkRequest.fromJSON(o),
  ListAuthorizers: (o: Record<string, unknown>) => ListAuthorizersRequest.fromJSON(o),
  SyncAuthorizers: (o: Record<string, unknown>) => SyncAuthorizersRequest.fromJSON(o),
  AuthorizeByCode: (o: Record<string, unknown>) => AuthorizeByCodeRequest.fromJSON(o),
  ListCredentials: (o: Record<string, unknown>) => ListCredentialsRequest.fromJSON(o),
};

/** A platform's state in proto3 JSON (64-bit versions as strings; the CLI prints the same). */
export function platformJson(p: PlatformView): Record<string, unknown> {
  return protoJson.platformJson(toProtoPlatform(p));
}

export function syncJson(s: SyncView): Record<string, unknown> {
  return protoJson.syncJson(toProtoSync(s));
}

/** A page of credentials in proto3 JSON (64-bit versions as strings). */
export function credentialListJson(v: CredentialListView): Record<string, unknown> {
  return protoJson.credentialListJson(toProtoCredentialList(v));
}

/** A Token in proto3 JSON (version as a string, as 64-bit integers are). */
export function tokenJson(t: CredentialRecord): Record<string, unknown> {
  return protoJson.tokenJson(toProtoToken(t));
}
