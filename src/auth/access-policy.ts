/**
 * The AccessPolicy built from the config's `auth` section: who the caller is
 * (an API key, else a verified client certificate) and which apps it may read
 * or refresh. Without `auth`, everyone may do everything (allowAll).
 */
import { allowAll, type AccessPolicy, type CallInfo, type Permission, type Principal } from "../core/access-policy.js";
import type { CredentialId } from "../core/credential-id.js";
import { PermissionDeniedError, UnauthenticatedError } from "../errors.js";
import { ApiKeyTable, bearerKey } from "./api-key.js";
import { certNameType, describeNames, verifiedPeerNames, type CertificateNames } from "./peer-names.js";
import type { AuthClientConfig, AuthConfig } from "./schema.js";

interface Client {
  readonly name: string;
  readonly grants: Record<Permission, ReadonlySet<string>>;
}

const VERB: Record<Permission, string> = { read: "read tokens of", refresh: "force a refresh of", sign: "sign JS-SDK pages of" };

export function createAccessPolicy(auth: AuthConfig | undefined): AccessPolicy {
  return auth === undefined ? allowAll : new ConfigAccessPolicy(auth.clients);
}

export class ConfigAccessPolicy implements AccessPolicy {
  private readonly byName = new Map<string, Client>();
  private readonly byKey = new ApiKeyTable<Client>();
  /** Each certNames entry by the SAN type it is matched against (peer-names.ts: a name with a scheme is a URI). */
  private readonly byUri = new Map<string, Client>();
  private readonly byDnsName = new Map<string, Client>();
  /** The DNS-type names of clients with allowCommonName: what a certificate without DNS or URI SANs may match by its CN. */
  private readonly byCommonName = new Map<string, Client>();

  /** allowCommonName may be left out (off), as a client made in code rather than parsed from the config may. */
  constructor(clients: readonly (Omit<AuthClientConfig, "allowCommonName"> & { allowCommonName?: boolean })[]) {
    for (const c of clients) {
      // Signing reveals less than reading: a read grant allows it too.
      const client: Client = { name: c.name, grants: { read: new Set(c.read), refresh: new Set(c.refresh), sign: new Set([...c.read, ...c.sign]) } };
      this.byName.set(c.name, client);
      if (c.apiKeySha256 !== undefined) this.byKey.add(c.apiKeySha256, client);
      for (const n of c.certNames ?? []) {
        const type = certNameType(n);
        if (type === "uri") this.byUri.set(n, client);
        if (type !== "dns") continue;
        this.byDnsName.set(n, client);
        if (c.allowCommonName) this.byCommonName.set(n, client);
      }
    }
  }

  /** A presented API key decides (and must be right); without one, a verified client certificate. */
  authenticate(call: CallInfo): Principal {
    // Node's HTTP/2 keeps only the first authorization field of a request (a
    // single-value header): a second one never reaches us, so it is not refused.
    const key = bearerKey(call.metadata.get("authorization")[0]);
    if (key !== undefined) {
      const client = this.byKey.find(key);
      if (!client) throw new UnauthenticatedError("unknown API key");
      return { name: client.name, method: "api-key" };
    }
    const names = verifiedPeerNames(call.authContext);
    if (names === undefined) {
      throw new UnauthenticatedError('no credentials: send metadata "authorization: Bearer <api key>" or connect with a client certificate');
    }
    const matches = this.clientsNamedIn(names);
    if (matches.size !== 1) {
      const shown = describeNames(names);
      throw new UnauthenticatedError(
        matches.size === 0
          ? `client certificate (${shown}) is not configured for any client` +
              (names.commonNames.length > 0 && !hasSan(names) ? "; a subject CN counts only for a client with allowCommonName" : "")
          : `client certificate (${shown}) matches more than one client`,
      );
    }
    const [client] = matches;
    return { name: client!.name, method: "mtls" };
  }

  /**
   * URI SANs name only URI entries, DNS SANs only DNS ones; the CN is a
   * name only without either (as RFC 6125 has it for host names), and only
   * for a client that allows it: a CN is whatever the certificate's requester
   * wrote, where many CAs check SANs more closely.
   */
  private clientsNamedIn(names: CertificateNames): Set<Client> {
    const matches = new Set<Client>();
    const add = (found: Client | undefined) => found && matches.add(found);
    for (const n of names.uris) add(this.byUri.get(n));
    for (const n of names.dnsNames) add(this.byDnsName.get(n));
    if (!hasSan(names)) for (const n of names.commonNames) add(this.byCommonName.get(n));
    return matches;
  }

  /**
   * A grant names "*", an appid or corpid (every credential of it), or
   * "corpid/agent" (one WeCom agent's). The message names neither the app nor
   * whether it exists: unknown and not-granted apps look the same.
   */
  authorize(principal: Principal, id: CredentialId, permission: Permission): void {
    const grants = this.byName.get(principal.name)?.grants[permission];
    if (grants?.has("*") || grants?.has(id.appId) || (id.agent !== undefined && grants?.has(`${id.appId}/${id.agent}`))) return;
    throw new PermissionDeniedError(`client "${principal.name}" may not ${VERB[permission]} this app`);
  }
}

/** A DNS or URI SAN: then the CN is no name. */
function hasSan(names: CertificateNames): boolean {
  return names.uris.length > 0 || names.dnsNames.length > 0;
}
