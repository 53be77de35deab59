/**
 * Which `Host` an HTTP listener answers: the defense against DNS rebinding.
 * A web page on evil.example can make its own name resolve to 127.0.0.1 (or
 * to a server on the operator's network) and then read, as same-origin, what
 * an unauthenticated listener there answers. Its requests still carry
 * `Host: evil.example`: refusing names the server was not told about stops
 * it. IP addresses are always answered (a page whose origin is an IP address
 * cannot rebind it), and so are loopback names.
 */
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { RefusalLog } from "./refusal-log.js";

export interface HostCheckOptions {
  /** Names besides loopback names and IP addresses: exact names, "*.example.com" (any name under it) or "*" (any Host). */
  allowedHosts?: readonly string[];
  /**
   * Without allowedHosts, whether every caller must authenticate now (asked
   * per request: a reload may add or remove auth). Then any Host is
   * answered: a rebinding page cannot present a key or certificate.
   */
  authenticated?: () => boolean;
}

/** Loopback names a resolver never sends to DNS, so no page can rebind them. */
const LOOPBACK_NAMES = new Set(["localhost"]);

/**
 * The name or address of a Host header, lowercased, without its port,
 * brackets or a trailing dot; undefined when it is not a valid Host.
 */
function hostName(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  let name: string;
  let rest: string;
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end === -1) return undefined;
    name = h.slice(1, end);
    rest = h.slice(end + 1);
    if (isIP(name) !== 6) return undefined;
  } else {
    const colon = h.indexOf(":");
    name = colon === -1 ? h : h.slice(0, colon);
    rest = colon === -1 ? "" : h.slice(colon);
  }
  if (rest !== "" && !/^:\d{0,5}$/.test(rest)) return undefined;
  if (name.endsWith(".")) name = name.slice(0, -1);
  return name === "" ? undefined : name;
}

export class HostCheck {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly any: boolean;
  private readonly authenticated: (() => boolean) | undefined;

  constructor(o: HostCheckOptions = {}) {
    let any = false;
    this.authenticated = o.allowedHosts === undefined ? o.authenticated : undefined;
    for (const entry of o.allowedHosts ?? []) {
      const e = entry.toLowerCase().replace(/\.$/, "");
      if (e === "*") any = true;
      else if (e.startsWith("*.")) this.suffixes.push(e.slice(1));
      else this.exact.add(e);
    }
    this.any = any;
  }

  /** Whether a request with this Host header is answered. No Host at all (HTTP/1.0) is: a browser always sends one. */
  allows(header: string | undefined): boolean {
    if (this.any || header === undefined || this.authenticated?.() === true) return true;
    const name = hostName(header);
    if (name === undefined) return false;
    if (isIP(name) !== 0 || LOOPBACK_NAMES.has(name) || this.exact.has(name)) return true;
    return this.suffixes.some((s) => name.endsWith(s) && name.length > s.length);
  }
}

/**
 * A listener's Host check with its consequences: a refusal is counted and
 * logged (summarized: a page can send them in a loop) and says which names
 * are answered.
 */
export class HostGuard {
  private readonly refusals: RefusalLog;

  constructor(
    private readonly o: {
      check: HostCheck;
      listener: "http" | "metrics";
      /** The config key that lists more names, for messages. */
      configKey: string;
      log: Logger;
      clock: Clock;
      onRefused?(): void;
    },
  ) {
    this.refusals = new RefusalLog({ log: o.log, clock: o.clock, what: `${o.listener} requests refused`, fields: { listener: o.listener } });
  }

  /** Undefined when the request's Host is answered; else why not, for the answer (the refusal is counted and logged). */
  refusal(req: IncomingMessage): string | undefined {
    if (this.o.check.allows(req.headers.host)) return undefined;
    const host = (req.headers.host ?? "").slice(0, 100);
    const remote = req.socket.remoteAddress;
    this.o.onRefused?.();
    this.refusals.note("host_not_allowed", { listener: this.o.listener, host, remote }, `${this.o.listener} request refused: Host not allowed (${this.o.configKey})`, "warn", remote);
    return `Host "${host}" is not served here: only loopback names, IP addresses and the names in ${this.o.configKey} are (a defense against DNS rebinding; see docs/security.md)`;
  }

  /** Writes the refusals counted so far (at close). */
  flush(): void {
    this.refusals.flush();
  }
}
