/**
 * Binding a node:http(s) listener, one way for all of them (the HTTP API,
 * the push receiver, the metrics endpoint, the fake WeChat): read
 * "host:port", "[v6]:port" or ":port", listen, and resolve to the port bound
 * (":0" picks a free one). A failure to bind rejects with Node's own error
 * (EADDRINUSE and its address intact), which the CLI names
 * (src/cli/serve.ts, addressInUse) and exits 71 for. The gRPC listener binds
 * through grpc-js's bindAsync instead (src/grpc/server.ts).
 */
import type { Server } from "node:net";
import { splitHostPort } from "../host-port.js";

/** The address's host (undefined: all interfaces) and port; `key` names the setting in the error. */
export function parseListenAddress(address: string, key: string): { host: string | undefined; port: number } {
  const parts = splitHostPort(address);
  if (!parts) throw new Error(`${key} must be host:port, got "${address}"`);
  return { host: parts.host || undefined, port: parts.port };
}

/**
 * Listens on `address` ("host:port", or its parts already split) and resolves
 * to the bound port. `key` is the config key that set it, for the error when
 * the address is not host:port.
 */
export async function listen(server: Server, address: string | { host: string | undefined; port: number }, key = "listen"): Promise<number> {
  const { host, port } = typeof address === "string" ? parseListenAddress(address, key) : address;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  return typeof bound === "object" && bound !== null ? bound.port : port;
}
