import { pino, type Logger as PinoLogger, type DestinationStream } from "pino";

export type Logger = PinoLogger;

/**
 * Structured JSON logs (pino). Secrets are typed (src/secret.ts) and print as
 * ***; the redact list is a second belt for fields that must never appear.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: "wxtoken" },
      redact: { paths: ["secret", "*.secret", "appsecret", "*.appsecret", "accessToken", "*.accessToken", "access_token"], censor: "***" },
    },
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that drops everything (tests and library use). */
export const silentLogger: Logger = pino({ level: "silent" });
