/**
 * The names in a client certificate that the TLS handshake verified, each
 * kept with its type: SAN URIs (e.g. a SPIFFE ID), SAN DNS names and the
 * subject CN. The type matters: a CA that puts whatever a requester asks for
 * in a CN (or a DNS name) must not so hand out a SPIFFE ID, which only a URI
 * SAN carries. grpc-js hands over the peer certificate only when it chains to
 * the configured client CA.
 */
import type { PeerCertificate } from "node:tls";
import type { AuthContext } from "../core/access-policy.js";

export interface CertificateNames {
  /** subjectAltName URIs. */
  readonly uris: readonly string[];
  /** subjectAltName DNS names. */
  readonly dnsNames: readonly string[];
  /** The subject's CN attribute(s). */
  readonly commonNames: readonly string[];
}

/** The verified certificate's names, or undefined when the connection has no verified client certificate. */
export function verifiedPeerNames(ctx: AuthContext): CertificateNames | undefined {
  const cert = ctx.transportSecurityType === "ssl" ? ctx.sslPeerCertificate : undefined;
  if (!cert?.raw) return undefined;
  return certificateNames(cert);
}

export function certificateNames(cert: Pick<PeerCertificate, "subject" | "subjectaltname">): CertificateNames {
  const cn: unknown = cert.subject?.CN;
  const commonNames = Array.isArray(cn) ? cn.map(String) : typeof cn === "string" ? [cn] : [];
  const uris: string[] = [];
  const dnsNames: string[] = [];
  for (const { type, value } of parseSubjectAltName(cert.subjectaltname ?? "")) {
    if (type === "URI") uris.push(value);
    else if (type === "DNS") dnsNames.push(value);
  }
  return { uris: [...new Set(uris)], dnsNames: [...new Set(dnsNames)], commonNames: [...new Set(commonNames)] };
}

/** The certificate's names as messages show them: `URI "…"`, `DNS "…"`, `CN "…"`. */
export function describeNames(names: CertificateNames): string {
  const shown = [
    ...names.uris.map((n) => `URI ${JSON.stringify(n)}`),
    ...names.dnsNames.map((n) => `DNS ${JSON.stringify(n)}`),
    ...names.commonNames.map((n) => `CN ${JSON.stringify(n)}`),
  ];
  return shown.length > 0 ? shown.join(", ") : "no names";
}

/** A URI starts with a scheme (RFC 3986); a DNS name (or a CN) has no colon. */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * Which SAN type a configured certNames entry is matched against: a name with
 * a scheme (`spiffe://…`) against URI SANs, any other against DNS SANs (and,
 * where a client allows it, the CN). Undefined: a colon without a scheme, so
 * neither.
 */
export function certNameType(name: string): "uri" | "dns" | undefined {
  if (SCHEME.test(name)) return "uri";
  return name.includes(":") ? undefined : "dns";
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
