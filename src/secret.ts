import { inspect } from "node:util";

const REDACTED = "***";

/**
 * An appsecret. It prints as *** everywhere (String(), JSON, util.inspect,
 * pino), so it cannot leak by accident; only reveal() gives the value, and only
 * the upstream client calls it.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }

}
