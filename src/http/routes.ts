/**
 * The HTTP routes, read from the contract itself: each TokenService method's
 * google.api.http annotation in proto/ (the same rules grpc-gateway or Envoy's
 * transcoder would apply), so the HTTP API cannot drift from the proto.
 */
import { loadSync } from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

export type Rpc = "GetToken" | "ForceRefresh" | "WatchToken" | "SignJsSdk";

export interface Route {
  rpc: Rpc;
  method: "GET" | "POST";
  /** The path template, e.g. /v1/apps/{app_id}/token:refresh. */
  template: string;
  /** Whether the request message comes in the JSON body ("*"); otherwise from the query. */
  body: boolean;
  match(path: string): Record<string, string> | undefined;
}

/** proto/ beside the build (dist/src/http -> proto) or the sources (src/http -> proto). */
function protoRoot(): string {
  const here = fileURLToPath(new URL(".", import.meta.url));
  return here.includes("/dist/") ? fileURLToPath(new URL("../../../proto", import.meta.url)) : fileURLToPath(new URL("../../proto", import.meta.url));
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

interface HttpRuleOption {
  get?: string;
  post?: string;
  body?: string;
}

export function loadRoutes(): Route[] {
  const def = loadSync("wxtoken/v1/token_service.proto", { includeDirs: [protoRoot()], keepCase: true });
  const service = def["wxtoken.v1.TokenService"] as unknown as Record<string, { options?: Record<string, unknown> }>;
  const routes: Route[] = [];
  for (const [rpc, m] of Object.entries(service)) {
    const rule = m.options?.["(google.api.http)"] as HttpRuleOption | undefined;
    if (!rule) continue;
    const method = rule.get !== undefined ? "GET" : "POST";
    const template = (rule.get ?? rule.post)!;
    routes.push({ rpc: rpc as Rpc, method, template, body: rule.body === "*", match: matcher(template) });
  }
  return routes;
}
