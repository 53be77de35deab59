/**
 * The `auth` and `tls` sections of the config file (see docs/security.md).
 * Strict like the rest of the schema: a typo is an error, never a silent
 * "everyone may do everything".
 */
import { z } from "zod";
import { exposureProblem } from "./exposure.js";
import { certNameType } from "./peer-names.js";

import { AGENT_PATTERN, APP_ID_PATTERN } from "../core/credential-id.js";

/** "*" (every app), an appid or corpid (all its credentials), or "corpid/agent" (one WeCom agent's). */
const grant = z.union([
  z.literal("*"),
  z.string().refine((g) => {
    const [app = "", agent, ...rest] = g.split("/");
    return APP_ID_PATTERN.test(app) && (agent === undefined || AGENT_PATTERN.test(agent)) && rest.length === 0;
  }, 'must be "*", an appid or corpid, or "corpid/agent"'),
]);

/** A certNames entry: its form says which SAN type it is matched against (peer-names.ts). */
const certName = z
  .string()
  .min(1)
  .max(512)
  .superRefine((n, ctx) => {
    const problem = /^(DNS|URI|IP|IP Address|email|CN)[:=]/i.test(n)
      ? 'is written without a type prefix: "spiffe://example.org/billing" (a URI) or "billing.internal" (a DNS name)'
      : certNameType(n) === undefined
        ? "has a colon but no URI scheme: a DNS name has no colon, a URI starts with its scheme (spiffe://...)"
        : undefined;
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });

const client = z
  .strictObject({
    /** Shown in logs, metrics and rate limits, e.g. "order-service". */
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 characters of A-Z a-z 0-9 _ - ."),
    /** sha256 (hex) of the client's API key, as `wxtoken hash-key` prints it. Never the key itself. */
    apiKeySha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "must be the 64 hex digits `wxtoken hash-key` prints (the sha256 of the key, not the key)")
      .transform((s) => s.toLowerCase())
      .optional(),
    /**
     * Names in a client certificate that identify this client. Needs tls.clientCaFile. A name with a scheme
     * ("spiffe://example.org/billing") matches only a SAN URI, any other ("billing.internal") only a SAN DNS name
     * (and the subject CN with allowCommonName).
     */
    certNames: z.array(certName).min(1).optional(),
    /**
     * Also match the certNames that are not URIs against the certificate's subject CN, when the certificate has no
     * SAN DNS name or URI (older certificates that carry their name only there). Off: the CN is never a name.
     */
    allowCommonName: z.boolean().default(false),
    /** Apps whose tokens the client may read (GetToken, WatchToken); "*" for all. */
    read: z.array(grant).default([]),
    /** Apps the client may ForceRefresh; "*" for all. Must also be readable: ForceRefresh returns the token. */
    refresh: z.array(grant).default([]),
    /** Apps the client may only sign JS-SDK pages for (SignJsSdk), never seeing the ticket; read grants allow signing too. */
    sign: z.array(grant).default([]),
  })
  .refine((c) => c.apiKeySha256 !== undefined || c.certNames !== undefined, {
    message: "give apiKeySha256, certNames or both (how the client proves who it is)",
  })
  .refine((c) => !c.allowCommonName || c.certNames?.some((n) => certNameType(n) === "dns"), {
    path: ["allowCommonName"],
    message: "needs a certNames entry that is not a URI (a CN is never matched against a URI name)",
  });

export const authSchema = z
  .strictObject({
    clients: z.array(client).min(1, "configure at least one client, or remove auth to allow everyone"),
  })
  .superRefine((auth, ctx) => {
    const names = new Map<string, number>();
    const keys = new Map<string, number>();
    const certNames = new Map<string, number>();
    const firstSeen = (seen: Map<string, number>, value: string, i: number): number | undefined => {
      const prev = seen.get(value);
      if (prev === undefined) seen.set(value, i);
      return prev;
    };
    auth.clients.forEach((c, i) => {
      const path = ["clients", i];
      const sameName = firstSeen(names, c.name, i);
      if (sameName !== undefined) ctx.addIssue({ code: "custom", path: [...path, "name"], message: `duplicate client name "${c.name}"` });
      const sameKey = c.apiKeySha256 === undefined ? undefined : firstSeen(keys, c.apiKeySha256, i);
      if (sameKey !== undefined) {
        ctx.addIssue({ code: "custom", path: [...path, "apiKeySha256"], message: `the same key as clients[${sameKey}]; give each client its own key` });
      }
      for (const n of c.certNames ?? []) {
        const same = firstSeen(certNames, n, i);
        if (same !== undefined && same !== i) {
          ctx.addIssue({ code: "custom", path: [...path, "certNames"], message: `"${n}" also names clients[${same}]` });
        }
      }
      const readable = new Set(c.read);
      c.refresh.forEach((g, j) => {
        if (!readable.has("*") && !readable.has(g)) {
          ctx.addIssue({
            code: "custom",
            path: [...path, "refresh", j],
            message: `"${g}" is not in read: ForceRefresh returns the token, so a refresh grant needs a read grant too`,
          });
        }
      });
    });
  });

export const tlsSchema = z
  .strictObject({
    /** The server's certificate chain (PEM), relative to the config file. */
    certFile: z.string().min(1),
    /** The server's private key (PEM), relative to the config file. */
    keyFile: z.string().min(1),
    /** CA(s) (PEM) that sign client certificates. Without it, client certificates are not asked for. */
    clientCaFile: z.string().min(1).optional(),
    /** Refuse connections without a client certificate signed by clientCaFile (at the TLS handshake). */
    requireClientCert: z.boolean().default(false),
    /** Re-read the files this often, so renewed certificates are picked up without a restart. */
    reloadSeconds: z.number().int().positive().default(300),
  })
  .refine((t) => !t.requireClientCert || t.clientCaFile !== undefined, {
    path: ["requireClientCert"],
    message: "needs tls.clientCaFile (the CA that signs client certificates)",
  });

export type AuthConfig = z.infer<typeof authSchema>;
export type AuthClientConfig = AuthConfig["clients"][number];
export type TlsConfig = z.infer<typeof tlsSchema>;

interface SecurityFields {
  listen: string;
  insecure: boolean;
  auth?: AuthConfig;
  tls?: TlsConfig;
}

/** Checks across sections: certificate names need a client CA; an exposed listener needs authentication. */
export function checkSecurity(config: SecurityFields, ctx: z.RefinementCtx): void {
  if (config.tls?.clientCaFile === undefined) {
    config.auth?.clients.forEach((c, i) => {
      if (c.certNames !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["auth", "clients", i, "certNames"],
          message: "client certificates need tls.clientCaFile (the CA that signs them)",
        });
      }
    });
  }
  const problem = exposureProblem(config, config.listen);
  if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["insecure"], message: problem });
}

/** Grants naming an app that is not configured: allowed (apps come and go), but probably a typo. */
export function grantWarnings(auth: AuthConfig | undefined, appIds: readonly string[]): string[] {
  const known = new Set(appIds);
  const warnings: string[] = [];
  auth?.clients.forEach((c, i) => {
    for (const kind of ["read", "refresh", "sign"] as const) {
      c[kind].forEach((g, j) => {
        if (g !== "*" && !known.has(g)) warnings.push(`auth.clients[${i}].${kind}[${j}] grants "${g}", which is not a configured app`);
      });
    }
  });
  return warnings;
}
