/**
 * The names in a client certificate that the TLS handshake verified: subject
 * CN, SAN DNS names and SAN URIs (e.g. a SPIFFE ID). grpc-js hands over the
 * peer certificate only when it chains to the configured client CA.
 */
import type { PeerCertificate } from "node:tls";
import type { AuthContext } from "../core/authorizer.js";

/** The verified certificate's names, or undefined when the connection has no verified client certificate. */
export function verifiedPeerNames(ctx: AuthContext): string[] | undefined {
  const cert = ctx.transportSecurityType === "ssl" ? ctx.sslPeerCertificate : undefined;
  if (!cert?.raw) return undefined;
  return certificateNames(cert);
}

export function certificateNames(cert: Pick<PeerCertificate, "subject" | "subjectaltname">): string[] {
  const cn: unknown = cert.subject?.CN;
  const names = Array.isArray(cn) ? cn.map(String) : typeof cn === "string" ? [cn] : [];
  for (const { type, value } of parseSubjectAltName(cert.subjectaltname ?? "")) {
    if (type === "DNS" || type === "URI") names.push(value);
  }
  return [...new Set(names)];
}

/**
 * Node's subjectaltname string: `DNS:a, URI:spiffe://x/y, IP Address:1.2.3.4`.
 * Values with a comma or quote in them come JSON-quoted (since Node 17.3 / 16.13.2),
 * so a value cannot smuggle in a second entry.
 */
export function parseSubjectAltName(san: string): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  let m: RegExpExecArray | null;
  while (entry.lastIndex < san.length && (m = entry.exec(san)) !== null) {
    const raw = m[2] ?? "";
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        return out; // not a format we know: trust nothing after this point
      }
    }
    out.push({ type: m[1] ?? "", value });
  }
  return out;
}
