#!/usr/bin/env node
/**
 * wxtoken's command line. `wxtoken help` (or --help, -h) lists the commands;
 * `wxtoken COMMAND --help` shows one. Each command parses only its own flags
 * (commands.ts), so a flag of another command is a usage error.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { hashKeyCommand } from "../auth/hash-key-command.js";
import { ConfigError } from "../config/load.js";
import { DEFAULT_BASE_URL } from "../upstream/wechat-client.js";
import { callbackIpCommand } from "./callback-ip.js";
import { checkConfigCommand } from "./check-config.js";
import { authorizeCommand, getCommand, parseWhich, platformCommand, refreshCommand, signCommand, watchCommand } from "./client-commands.js";
import { COMMANDS, commandUsage, USAGE } from "./commands.js";
import { demoCommand } from "./demo.js";
import { EXIT, failCommand, usageJson } from "./failures.js";
import { fakeWeChatCommand } from "./fake-wechat-command.js";
import { integerFlags, UsageError } from "./flags.js";
import { serveCommand } from "./serve.js";
import { statusCommand } from "./status-command.js";
import { clearQuotaCommand, retryCommand } from "./operator-commands.js";

/** The command being run, for its usage in an error; undefined before one is known. */
let current: string | undefined;
/** --json: any failure, a usage error too, is printed as one JSON object. */
let jsonErrors = false;

function version(): string {
  // dist/src/cli/main.js -> the package root's package.json.
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<void> {
  // Read before parsing, so that a usage error found while parsing is JSON too; "--" ends the flags.
  jsonErrors = argv.slice(0, argv.includes("--") ? argv.indexOf("--") : argv.length).includes("--json");
  const [first, ...rest] = argv;
  // No command is a usage error, as in git or docker: the usage on stderr, exit 2; asking for help is not.
  if (first === undefined) usage("a command is needed");
  if (first === "help" || first === "--help" || first === "-h") {
    process.stdout.write(USAGE);
    return;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    process.stdout.write(`wxtoken ${version()}\n`);
    return;
  }
  if (first.startsWith("-")) usage(`a command comes first, got "${first.slice(0, 40)}"`);
  const spec = COMMANDS[first];
  if (spec === undefined) usage(`unknown command "${first.slice(0, 40)}"`);
  const command = (current = first);
  const options = { ...spec.options, help: { type: "boolean" as const, short: "h" } };
  const parsed = parseArgs({ args: opaqueValuesGlued(rest, options), allowPositionals: true, options });
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const { positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(commandUsage(command));
    return;
  }
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const list = (name: string): string[] => (values[name] as string[] | undefined) ?? [];
  const [app] = positionals;
  const n = integerFlags(values as Record<string, string>);
  const timeout = n.timeout!; // has a default where it is a flag
  const needApp = (): string => app ?? usage(`${command} needs an APP argument`);
  const auth = {
    apiKey: str("api-key") ?? (process.env.WXTOKEN_API_KEY || undefined),
    tlsCa: str("tls-ca"),
    tlsCert: str("tls-cert"),
    tlsKey: str("tls-key"),
    tlsServerName: str("tls-server-name"),
  };
  const addr = str("addr")!;
  const which = () => parseWhich(str("kind"), str("agent"), str("platform"));
  switch (command) {
    case "retry":
      return retryCommand({ pid: str("pid"), pidfile: str("pidfile"), timeoutMs: timeout });
    case "clear-quota":
      return clearQuotaCommand(str("config") ?? usage("clear-quota needs --config FILE"), needApp());
    case "serve":
      return serveCommand(str("config") ?? usage("serve needs --config FILE"), str("listen"), str("pidfile"));
    case "check-config":
      return checkConfigCommand(app ?? usage("check-config needs the config FILE"));
    case "demo":
      return demoCommand({ listen: str("listen"), expiresIn: n["expires-in"] });
    case "fake-wechat":
      return fakeWeChatCommand({ host: str("host"), port: n.port, apps: list("app"), expiresIn: n["expires-in"], component: str("component"), pushUrl: str("push-url"), suites: list("suite"), providers: list("provider") });
    case "get":
      return getCommand(addr, needApp(), timeout, auth, which());
    case "refresh":
      return refreshCommand(addr, needApp(), str("stale") ?? usage("refresh needs --stale TOKEN"), timeout, auth, which());
    case "watch":
      return watchCommand(addr, needApp(), { version: n["known-version"]!, fingerprint: str("known-fingerprint")! }, auth, which());
    case "sign":
      return signCommand(addr, needApp(), positionals[1] ?? "", timeout, auth, { kind: str("kind"), agent: str("agent"), platform: str("platform"), card: list("card") });
    case "platform":
      return platformCommand(addr, needApp(), timeout, auth, { sync: values.sync === true, status: str("status"), pageSize: n["page-size"], pageToken: str("page-token") });
    case "authorize":
      return authorizeCommand(addr, str("platform") ?? usage("authorize needs --platform ID"), str("code") ?? usage("authorize needs --code CODE (or --code - to read it from stdin)"), timeout, auth);
    case "status":
      return statusCommand(addr, timeout, auth, { app: str("app"), kind: str("kind"), state: str("state"), search: str("search"), json: values.json === true });
    case "hash-key":
      return hashKeyCommand(app);
    case "callback-ip":
      return callbackIpCommand({
        addr,
        appId: needApp(),
        wechatBaseUrl: str("wechat") ?? DEFAULT_BASE_URL,
        repeat: n.repeat,
        intervalMs: n.interval,
        timeoutMs: timeout,
        auth,
      });
  }
}

function usage(message: string): never {
  if (jsonErrors) process.stderr.write(`${JSON.stringify(usageJson(message))}\n`);
  else process.stderr.write(`error: ${message}\n\n${current ? commandUsage(current) : USAGE}`);
  process.exit(EXIT.usage);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // parseArgs's own complaints (an unknown flag, a missing value) are usage errors too.
  const code = String((err as { code?: unknown }).code);
  const unknown = code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? /'(-[^']*)'/.exec((err as Error).message)?.[1] : undefined;
  if (unknown !== undefined) usage(`${current} does not take ${unknown} (wxtoken ${current} --help lists its flags)`);
  if (err instanceof UsageError || code.startsWith("ERR_PARSE_ARGS")) usage((err as Error).message);
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(EXIT.config);
  }
  failCommand(err, jsonErrors);
});

/**
 * `--code -Xy…` is that code, as `--code=-Xy…` would be (parseArgs calls a
 * value starting with "-" ambiguous): a redirect's auth_code, a WeCom token
 * given as --stale, an API key can start with one. Not when the next word is one of the command's own
 * flags (`--code --addr …` is a missing code), nor for `-` (stdin).
 */
function opaqueValuesGlued(args: string[], options: Record<string, { short?: string }>): string[] {
  // Options whose values are opaque strings that may start with "-" (base64url codes, tokens, page tokens, API keys).
  const opaque = ["code", "api-key", "stale", "page-token", "known-fingerprint", "search"];
  const own = new Set(Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : "";
    if (opaque.includes(name) && name in options && next !== undefined && next.startsWith("-") && next !== "-" && !own.has(next.split("=")[0]!)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}
