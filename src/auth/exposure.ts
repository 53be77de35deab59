/**
 * Whether a listen address can be reached from other machines, and whether the
 * server may listen there unauthenticated. Anyone who can call GetToken can use
 * every app's WeChat API, so an open server is only allowed on loopback, or when
 * the config says `insecure: true` on purpose.
 */
import { BlockList, isIPv4, isIPv6 } from "node:net";

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** The host part of a grpc-js listen address ("host:port", "[v6]:port", "dns:host:port", "ipv4:...", "ipv6:..."). */
function hostOf(address: string): string {
  const a = address.replace(/^(dns:(\/\/\/)?|ipv4:|ipv6:)/, "");
  if (a.startsWith("[")) return a.slice(1, a.indexOf("]"));
  if (isIPv6(a)) return a;
  const colon = a.lastIndexOf(":");
  return colon === -1 ? a : a.slice(0, colon);
}

/** True for 127.0.0.0/8, ::1 (and ::ffff:127.x), localhost and unix sockets. */
export function isLoopbackAddress(address: string): boolean {
  if (address.startsWith("unix:")) return true;
  const host = hostOf(address).toLowerCase();
  if (host === "localhost") return true;
  if (isIPv4(host)) return LOOPBACK.check(host, "ipv4");
  if (isIPv6(host)) return LOOPBACK.check(host, "ipv6");
  return false;
}

interface ExposureFields {
  insecure: boolean;
  auth?: unknown;
  tls?: { requireClientCert: boolean };
}

/** Callers must prove who they are: API keys / certificate names (auth), or a client certificate at the handshake. */
export function hasClientAuthentication(config: ExposureFields): boolean {
  return config.auth !== undefined || config.tls?.requireClientCert === true;
}

/** Why the server must not listen on `address` with this config, or undefined when it may. */
export function exposureProblem(config: ExposureFields, address: string): string | undefined {
  if (config.insecure || isLoopbackAddress(address) || hasClientAuthentication(config)) return undefined;
  return (
    `listen address ${address} is not loopback and no client authentication is configured (auth, or tls.requireClientCert): ` +
    `anyone who can reach it could read every access_token. Configure auth, listen on 127.0.0.1, ` +
    `or set "insecure": true if something in front of the server (a firewall, a service mesh) does this for you`
  );
}

/**
 * Works, but should be fixed: API keys sent in clear text across a network;
 * metrics (no authentication: they list app ids and quota use) reachable from
 * other machines.
 */
export function exposureWarnings(
  config: ExposureFields & { auth?: { clients: { apiKeySha256?: string }[] }; metrics?: { listen: string } },
  address: string,
): string[] {
  const warnings: string[] = [];
  const usesKeys = config.auth?.clients.some((c) => c.apiKeySha256 !== undefined) ?? false;
  if (usesKeys && config.tls === undefined && !config.insecure && !isLoopbackAddress(address)) {
    warnings.push(`API keys cross the network in clear text on ${address}: configure tls, or terminate TLS in front of the server (and set "insecure": true to say so)`);
  }
  if (config.metrics && !config.insecure && !isLoopbackAddress(config.metrics.listen)) {
    warnings.push(
      `metrics on ${config.metrics.listen} have no authentication and name every app id and its quota use: keep the port on a private network (set "insecure": true to silence this)`,
    );
  }
  return warnings;
}
