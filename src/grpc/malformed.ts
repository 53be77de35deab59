/**
 * Request bytes that do not decode are the client's fault. grpc-js answers a
 * throwing requestDeserialize with INTERNAL (hard-coded in its server call),
 * which fires server-error alerts; so decoding never throws here: it hands
 * the handler a MalformedRequest, which the handler answers INVALID_ARGUMENT
 * through the status table like any other bad argument.
 */
import { InvalidArgumentError } from "./status.js";

export class MalformedRequest {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {}
}

interface MethodDefinition {
  path: string;
  requestDeserialize: (bytes: Buffer) => unknown;
}

/** The service definition with a requestDeserialize that returns a MalformedRequest instead of throwing. */
export function decodeLeniently<S extends Record<string, MethodDefinition>>(service: S): S {
  const out: Record<string, MethodDefinition> = {};
  for (const [name, method] of Object.entries(service)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new MalformedRequest(method.path, (err as Error).message);
        }
      },
    };
  }
  return out as S;
}

/** Throws INVALID_ARGUMENT (reason MALFORMED_REQUEST) for a request that did not decode. */
export function checkDecoded(request: unknown): void {
  if (request instanceof MalformedRequest) {
    throw new InvalidArgumentError(`request to ${request.path} is not a valid protobuf message (${request.problem})`, "MALFORMED_REQUEST");
  }
}
