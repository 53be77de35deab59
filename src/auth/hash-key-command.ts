/** `wxtoken hash-key [KEY | -]`: a new API key (or the given one, "-" for stdin) and the sha256 for the config. */
import { readFileSync } from "node:fs";
import { generateApiKey, hashApiKey, MIN_KEY_LENGTH } from "./api-key.js";

interface Out {
  write(s: string): unknown;
}

export function hashKeyCommand(given: string | undefined, out: Out = process.stdout, err: Out = process.stderr): void {
  const key = given === "-" ? readFileSync(0, "utf8").trim() : (given ?? generateApiKey());
  if (key.length === 0) throw new Error("the key is empty");
  if (given !== undefined && key.length < MIN_KEY_LENGTH) {
    err.write(
      `warning: a ${key.length}-character key can be guessed, and a sha256 of it can be brute-forced; ` +
        `run "wxtoken hash-key" without a key to generate a random one\n`,
    );
  }
  out.write(`key: ${key}\napiKeySha256: ${hashApiKey(key)}\n`);
  err.write(
    'Give the key to the client (as a secret; it sends "authorization: Bearer <key>"), and put apiKeySha256 in\n' +
      "the server config under auth.clients[]. The server never needs the key itself.\n",
  );
}
