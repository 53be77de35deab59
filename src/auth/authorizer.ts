/**
 * The Authorizer built from the config's `auth` section: who the caller is
 * (an API key, else a verified client certificate) and which apps it may read
 * or refresh. Without `auth`, everyone may do everything (allowAll).
 */
import { allowAll, type Authorizer, type CallInfo, type Permission, type Principal } from "../core/authorizer.js";
import type { CredentialId } from "../core/credential.js";
import { PermissionDeniedError, UnauthenticatedError } from "../errors.js";
import { ApiKeyTable, bearerKey } from "./api-key.js";
import { verifiedPeerNames } from "./peer-names.js";
import type { AuthClientConfig, AuthConfig } from "./schema.js";

interface Client {
  readonly name: string;
  readonly grants: Record<Permission, ReadonlySet<string>>;
}

const VERB: Record<Permission, string> = { read: "read tokens of", refresh: "force a refresh of", sign: "sign JS-SDK pages of" };

export function createAuthorizer(auth: AuthConfig | undefined): Authorizer {
  return auth === undefined ? allowAll : new ConfigAuthorizer(auth.clients);
}

export class ConfigAuthorizer implements Authorizer {
  private readonly byName = new Map<string, Client>();
  private readonly byKey = new ApiKeyTable<Client>();
  private readonly byCertName = new Map<string, Client>();

  constructor(clients: readonly AuthClientConfig[]) {
    for (const c of clients) {
      // Signing reveals less than reading: a read grant allows it too.
      const client: Client = { name: c.name, grants: { read: new Set(c.read), refresh: new Set(c.refresh), sign: new Set([...c.read, ...c.sign]) } };
      this.byName.set(c.name, client);
      if (c.apiKeySha256 !== undefined) this.byKey.add(c.apiKeySha256, client);
      for (const n of c.certNames ?? []) this.byCertName.set(n, client);
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
    const matches = new Set(names.flatMap((n) => this.byCertName.get(n) ?? []));
    if (matches.size !== 1) {
      const shown = names.map((n) => JSON.stringify(n)).join(", ");
      throw new UnauthenticatedError(
        matches.size === 0 ? `client certificate (${shown}) is not configured for any client` : `client certificate (${shown}) matches more than one client`,
      );
    }
    const [client] = matches;
    return { name: client!.name, method: "mtls" };
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
