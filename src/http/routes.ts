/**
 * The HTTP routes, read from the contract itself: each TokenService method's
 * google.api.http annotation (the same rules grpc-gateway or Envoy's
 * transcoder apply), taken from the descriptor set buf built from proto/, so
 * the HTTP API cannot drift from the proto.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { descriptorSetBase64 } from "../../generated/descriptor_set.js";
import { HttpRule } from "../../generated/google/api/http.js";

export type Rpc = "GetToken" | "ForceRefresh" | "WatchToken" | "SignJsSdk" | "ListAuthorizers" | "SyncAuthorizers" | "AuthorizeByCode" | "ListCredentials";

export interface Route {
  rpc: Rpc;
  method: "GET" | "POST";
  /** The path template, e.g. /v1/apps/{app_id}/token:refresh. */
  template: string;
  /** Whether the request message comes in the JSON body ("*"); otherwise from the query. */
  body: boolean;
  match(path: string): Record<string, string> | undefined;
}

/** "/v1/apps/{app_id}/token" -> a matcher that yields { app_id }. Path variables are single segments. */
function matcher(template: string): (path: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const source = template
    .split(/(\{[a-z_]+\})/)
    .map((part) => {
      const v = /^\{([a-z_]+)\}$/.exec(part);
      if (v) {
        names.push(v[1]!);
        return "([^/]+)";
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("");
  const re = new RegExp(`^${source}$`);
  return (path) => {
    const m = re.exec(path);
    if (!m) return undefined;
    const out: Record<string, string> = {};
    for (const [i, name] of names.entries()) {
      try {
        out[name] = decodeURIComponent(m[i + 1]!);
      } catch {
        return undefined;
      }
    }
    return out;
  };
}

/** google.api.http's field number in MethodOptions. */
const HTTP_RULE_FIELD = 72295728;

export function loadRoutes(): Route[] {
  const set = fromBinary(FileDescriptorSetSchema, Buffer.from(descriptorSetBase64, "base64"));
  const file = set.file.find((f) => f.name === "wxtoken/v1/token_service.proto")!;
  const service = file.service.find((s) => s.name === "TokenService")!;
  const routes: Route[] = [];
  for (const m of service.method) {
    // An extension the runtime has no schema for stays an unknown field: decode it as an HttpRule.
    const raw = m.options?.$unknown?.find((u) => u.no === HTTP_RULE_FIELD);
    if (!raw) continue;
    const rule = HttpRule.decode(raw.data.subarray(lengthPrefix(raw.data)));
    const method = rule.pattern?.$case === "get" ? "GET" : "POST";
    const template = rule.pattern?.$case === "get" || rule.pattern?.$case === "post" ? rule.pattern.value : "";
    if (!template) continue;
    routes.push({ rpc: m.name as Rpc, method, template, body: rule.body === "*", match: matcher(template) });
  }
  return routes;
}

/** The bytes of a length-delimited unknown field start with their varint length. */
function lengthPrefix(data: Uint8Array): number {
  let i = 0;
  while (data[i]! & 0x80) i++;
  return i + 1;
}
