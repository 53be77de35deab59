/**
 * Each token version is encoded once. GetToken and WatchToken answer the
 * same message for every caller until the value changes, so the response
 * object is kept per record (records are immutable and replaced on every
 * change) and its bytes per response object: a call costs two WeakMap lookups
 * and no protobuf encoding. The cache lives as long as the record does.
 */
import {
  GetTokenResponse,
  TokenServiceService,
  WatchTokenResponse,
  type TokenServiceServer,
} from "../../generated/wxtoken/v1/token_service.js";
import type { ServiceDefinition } from "@grpc/grpc-js";
import type { CredentialRecord } from "../core/credential-id.js";
import { toProtoToken } from "./convert.js";

const responses = new WeakMap<CredentialRecord, { token: ReturnType<typeof toProtoToken> }>();
const bytes = new WeakMap<object, Buffer>();

/** The response carrying this record, the same object for every caller (GetToken and WatchToken share its shape). */
export function responseOf(record: CredentialRecord): GetTokenResponse & WatchTokenResponse {
  let r = responses.get(record);
  if (!r) responses.set(record, (r = { token: toProtoToken(record) }));
  return r;
}

function cached<T extends object>(encode: (value: T) => Buffer): (value: T) => Buffer {
  return (value) => {
    let b = bytes.get(value);
    if (!b) bytes.set(value, (b = encode(value)));
    return b;
  };
}

/** The TokenService definition with GetToken and WatchToken responses serialized once per response object. */
export const CachedTokenService: ServiceDefinition<TokenServiceServer> = {
  ...TokenServiceService,
  getToken: { ...TokenServiceService.getToken, responseSerialize: cached((v: GetTokenResponse) => Buffer.from(GetTokenResponse.encode(v).finish())) },
  watchToken: { ...TokenServiceService.watchToken, responseSerialize: cached((v: WatchTokenResponse) => Buffer.from(WatchTokenResponse.encode(v).finish())) },
} as ServiceDefinition<TokenServiceServer>;
