/**
 * Each command's flags and usage lines. A command accepts only its own flags:
 * one parse over a table of every flag let `get APP --pidfile x --sync` through.
 */
import type { ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

export const DEFAULT_ADDR = "127.0.0.1:50051";

/** The connection flags every client command takes. */
const CONNECTION: Options = {
  addr: { type: "string", default: DEFAULT_ADDR },
  timeout: { type: "string", default: "10000" },
  "api-key": { type: "string" },
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-server-name": { type: "string" },
  json: { type: "boolean" },
};
const WHICH: Options = { kind: { type: "string" }, agent: { type: "string" }, platform: { type: "string" } };

const CONNECTION_USAGE = `      --addr HOST:PORT (default ${DEFAULT_ADDR}); --timeout MS (default 10000);
      --api-key KEY or env WXTOKEN_API_KEY; TLS: --tls-ca FILE [--tls-server-name NAME],
      mutual TLS: --tls-cert FILE --tls-key FILE; --json: a failure as one JSON object on stderr`;
const WHICH_USAGE = `      --kind token|jsapi|wx_card|agent_config (default token; the long and enum names, jsapi_ticket or CREDENTIAL_KIND_JSAPI_TICKET, work too)
      for WeCom (APP is the corpid) --agent AGENTID|NAME, or --platform SUITE_ID for the corp's
      credential through a service provider's suite; prints what the HTTP API answers (proto3 JSON)`;

export interface CommandSpec {
  /** The command's lines in the usage. */
  usage: string;
  options: Options;
  /** A client of a running server: --json and the exit codes by status apply. */
  client?: boolean;
}

export const COMMANDS: Record<string, CommandSpec> = {
  serve: {
    usage: `  wxtoken serve --config FILE [--listen ADDR] [--pidfile FILE]
                                         run the server (see docs/configuration.md); SIGHUP reloads
                                         the config and retries every failing credential at once`,
    options: { config: { type: "string", short: "c" }, listen: { type: "string" }, pidfile: { type: "string" } },
  },
  "check-config": {
    usage: `  wxtoken check-config FILE              validate a config (exit 0, or 78 naming the key) and print
                                         what it would serve: apps, kinds, platforms, store, listeners`,
    options: {},
  },
  retry: {
    usage: `  wxtoken retry --pidfile FILE | --pid N  tell a running server the cause is fixed (whitelist, quota):
                                         it reloads its config and retries every failing credential
                                         now (sends SIGHUP); with --pidfile, waits (--timeout MS) for
                                         the outcome and exits 1 with the reason if the reload failed`,
    options: { pidfile: { type: "string" }, pid: { type: "string" }, timeout: { type: "string", default: "10000" } },
  },
  "clear-quota": {
    usage: `  wxtoken clear-quota APP --config FILE  WeChat's clear_quota/v2 for APP (10 a month), then run retry`,
    options: { config: { type: "string", short: "c" } },
  },
  demo: {
    usage: `  wxtoken demo [--listen ADDR] [--expires-in S]
                                         fake WeChat + server with sample apps, until Ctrl-C`,
    options: { listen: { type: "string" }, "expires-in": { type: "string" } },
  },
  "fake-wechat": {
    usage: `  wxtoken fake-wechat [--host H] [--port N] [--app APPID:SECRET]... [--expires-in S]
                     [--component APPID:SECRET:TOKEN:AESKEY --push-url URL]
                     [--suite SUITEID:SECRET:TOKEN:AESKEY[:PUSHURL]]... [--provider CORPID:SECRET]...
                                         run the fake WeChat upstream on its own (--suite: a WeCom suite;
                                         --provider: a provider's corpid and provider_secret)`,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      app: { type: "string", multiple: true },
      "expires-in": { type: "string" },
      component: { type: "string" },
      "push-url": { type: "string" },
      suite: { type: "string", multiple: true },
      provider: { type: "string", multiple: true },
    },
  },
  "hash-key": {
    usage: `  wxtoken hash-key [KEY | -]             a new API key (or KEY, or one from stdin) and its sha256 for the config`,
    options: {},
  },
  get: {
    usage: `  wxtoken get APP [--kind K] [--agent A] print the current token as JSON\n${WHICH_USAGE}`,
    options: { ...CONNECTION, ...WHICH },
    client: true,
  },
  refresh: {
    usage: `  wxtoken refresh APP --stale TOKEN      passive refresh: refresh only if TOKEN is still current\n${WHICH_USAGE}`,
    options: { ...CONNECTION, ...WHICH, stale: { type: "string" } },
    client: true,
  },
  watch: {
    usage: `  wxtoken watch APP [--known-version N] [--known-fingerprint F]  print each new token as a JSON line\n${WHICH_USAGE}`,
    options: { ...CONNECTION, ...WHICH, "known-version": { type: "string", default: "0" }, "known-fingerprint": { type: "string", default: "" } },
    client: true,
  },
  sign: {
    usage: `  wxtoken sign APP URL [--kind config|agent_config|card] [--agent AGENTID] [--card VALUE]...
                   [--platform SUITE_ID]  JS-SDK signature of a page (wx.config by default), as JSON`,
    options: { ...CONNECTION, ...WHICH, card: { type: "string", multiple: true } },
    client: true,
  },
  platform: {
    usage: `  wxtoken platform COMPONENT_APPID|SUITE_ID [--sync] [--status active|needs_reauthorization]
                   [--page-size N] [--page-token T]
                                         an Open Platform's verify ticket, component token and
                                         authorizers, or a WeCom suite's suite_ticket, suite token
                                         and installed corps, with their status (all of them, read
                                         page by page; --page-size/--page-token: that one page and
                                         its next_page_token); --sync (Open Platform only) first
                                         re-reads the authorizers and refresh tokens from WeChat`,
    options: { ...CONNECTION, sync: { type: "boolean" }, status: { type: "string" }, "page-size": { type: "string" }, "page-token": { type: "string" } },
    client: true,
  },
  authorize: {
    usage: `  wxtoken authorize --platform ID --code CODE|-
                                         hand the server an auth_code your redirect_uri received (an
                                         Open Platform authorization, a WeCom suite install): it is
                                         exchanged and the tenant kept; prints the tenant as JSON
                                         (--code -: read the code from stdin, out of ps and history)`,
    options: { ...CONNECTION, platform: { type: "string" }, code: { type: "string" } },
    client: true,
  },
  status: {
    usage: `  wxtoken status [--app APP] [--kind K] [--state ok|failing|down|idle] [--search TEXT]
                                         every credential (those the caller may read) with its state,
                                         version, fingerprint, expiry, next refresh, failure and
                                         quota today, as a table (--json: as the HTTP API's JSON)`,
    options: { ...CONNECTION, app: { type: "string" }, kind: { type: "string" }, state: { type: "string" }, search: { type: "string" } },
    client: true,
  },
  "callback-ip": {
    usage: `  wxtoken callback-ip APP [--wechat URL] [--repeat N] [--interval MS]
                                         call WeChat's getcallbackip with the served token;
                                         recovers by itself from 40001/40014/42001 (--timeout: for
                                         the first token, and for waiting out the server's retry delay)`,
    options: { ...CONNECTION, wechat: { type: "string" }, repeat: { type: "string" }, interval: { type: "string" } },
    client: true,
  },
};

const SERVER = ["serve", "check-config", "retry", "clear-quota", "demo", "fake-wechat", "hash-key"];
const CLIENTS = ["get", "refresh", "watch", "sign", "platform", "authorize", "status", "callback-ip"];

export const USAGE = `wxtoken: a central access_token server for WeChat

Server:
${SERVER.map((c) => COMMANDS[c]!.usage).join("\n")}

Clients (each also takes the connection flags below):
${CLIENTS.map((c) => COMMANDS[c]!.usage).join("\n")}
${CONNECTION_USAGE}

  wxtoken COMMAND --help                 that command's usage
  wxtoken --version                      the version
Exit codes: 0 ok, 1 a failure, 2 usage, 69 UNAVAILABLE, 71 serve's address in use,
            75 RESOURCE_EXHAUSTED, 77 NOT_FOUND or PERMISSION_DENIED, 78 an invalid config
`;

/** One command's usage, for `wxtoken COMMAND --help` and its usage errors. */
export function commandUsage(name: string): string {
  const spec = COMMANDS[name]!;
  return `Usage:\n${spec.usage}\n${spec.client ? `${CONNECTION_USAGE}\n` : ""}`;
}
