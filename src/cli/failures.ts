/**
 * How a client command reports a failed call: the exit code says what kind of
 * failure it was (so a script can wait and retry on 69 or 75, and give up on
 * 77), and with --json the gRPC status details come out as one JSON object.
 */
import { status } from "@grpc/grpc-js";
import { TokenServiceError, TokenSourceTimeoutError } from "@wxtoken/client";

/** sysexits.h codes, which shell scripts and service managers already know. */
export const EXIT = {
  failure: 1,
  usage: 2,
  /** EX_UNAVAILABLE: the server (or WeChat behind it) is unavailable now; try later. */
  unavailable: 69,
  /**
   * EX_OSERR: `serve` cannot bind a listener's address (already in use): the
   * OS refused it a resource. Not 69, which tells a client's script that the
   * server it asked is down; a restart (systemd's Restart=on-failure) may find
   * the address free.
   */
  addressInUse: 71,
  /** EX_TEMPFAIL: a quota or rate limit; retry after the delay. */
  exhausted: 75,
  /** EX_NOPERM: no such app, or this caller may not have it; retrying will not help. */
  denied: 77,
  /** EX_CONFIG. */
  config: 78,
} as const;

/** The status error behind a failure: a TokenSource that timed out keeps its last one. */
export function statusErrorOf(err: unknown): TokenServiceError | undefined {
  if (err instanceof TokenServiceError) return err;
  if (err instanceof TokenSourceTimeoutError && err.lastError instanceof TokenServiceError) return err.lastError;
  return undefined;
}

export function exitCodeOf(err: unknown): number {
  switch (statusErrorOf(err)?.code) {
    case status.UNAVAILABLE:
      return EXIT.unavailable;
    case status.RESOURCE_EXHAUSTED:
      return EXIT.exhausted;
    case status.NOT_FOUND:
    case status.PERMISSION_DENIED:
      return EXIT.denied;
    default:
      return EXIT.failure;
  }
}

/** The --json form of a failure; code and reason are null when no status came back. */
export function failureJson(err: unknown): Record<string, unknown> {
  const s = statusErrorOf(err);
  return {
    code: s?.codeName ?? null,
    grpc_code: s?.code ?? null,
    reason: s?.reason ?? null,
    message: err instanceof Error ? err.message : String(err),
    retry_delay_ms: s?.retryDelayMs ?? null,
    metadata: s?.info ?? {},
    exit_code: exitCodeOf(err),
  };
}

/** The --json form of a mistake on the command line: failureJson's keys, no status, reason USAGE, exit_code 2. */
export function usageJson(message: string): Record<string, unknown> {
  return { code: null, grpc_code: null, reason: "USAGE", message, retry_delay_ms: null, metadata: {}, exit_code: EXIT.usage };
}

/** Prints the failure (as JSON with --json) on stderr and exits with its code. */
export function failCommand(err: unknown, json: boolean): never {
  if (json) process.stderr.write(`${JSON.stringify(failureJson(err))}\n`);
  else process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(exitCodeOf(err));
}
