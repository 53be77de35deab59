#!/usr/bin/env node
/**
 * wxtoken's command line. `wxtoken help` (or --help, -h) lists the commands.
 */
import { parseArgs } from "node:util";
import { hashKeyCommand } from "../auth/hash-key-command.js";
import { ConfigError } from "../config/load.js";
import { DEFAULT_BASE_URL } from "../upstream/wechat-client.js";
import { callbackIpCommand } from "./callback-ip.js";
import { DEFAULT_ADDR, getCommand, parseWhich, platformCommand, refreshCommand, signCommand, watchCommand } from "./client-commands.js";
import { demoCommand } from "./demo.js";
import { fakeWeChatCommand } from "./fake-wechat-command.js";
import { integerFlags, UsageError } from "./flags.js";
import { serveCommand } from "./serve.js";
import { clearQuotaCommand, retryCommand } from "./operator-commands.js";

const USAGE = `wxtoken: a central access_token server for WeChat

Server:
  wxtoken serve --config FILE [--pidfile FILE]
                                         run the server (see docs/configuration.md); SIGHUP reloads
                                         the config and retries every failing credential at once
  wxtoken retry --pidfile FILE | --pid N  tell a running server the cause is fixed (whitelist, quota):
                                         it reloads its config and retries every failing credential
                                         now (sends SIGHUP); with --pidfile, waits (--timeout MS) for
                                         the outcome and exits 1 with the reason if the reload failed
  wxtoken clear-quota APP --config FILE  WeChat's clear_quota/v2 for APP (10 a month), then run retry
  wxtoken demo [--listen ADDR]           fake WeChat + server with sample apps, until Ctrl-C
  wxtoken fake-wechat [--port N] [--app APPID:SECRET]... [--expires-in S]
                     [--component APPID:SECRET:TOKEN:AESKEY --push-url URL]
                                         run the fake WeChat upstream on its own
  wxtoken hash-key [KEY | -]             a new API key (or KEY, or one from stdin) and its sha256 for the config

Clients (--addr, default ${DEFAULT_ADDR}; --timeout MS, default 10000 (callback-ip: for the first token);
         --api-key KEY or env WXTOKEN_API_KEY; TLS: --tls-ca FILE [--tls-server-name NAME],
         mutual TLS: --tls-cert FILE --tls-key FILE):
  wxtoken get APP                        print the current token as JSON
  wxtoken refresh APP --stale TOKEN      passive refresh: refresh only if TOKEN is still current
  wxtoken watch APP [--known-version N] [--known-fingerprint F]  print each new token as a JSON line
      get, refresh and watch take --kind token|jsapi|wx_card|agent_config (default token)
      and, for WeCom (APP is the corpid), --agent AGENTID|NAME
  wxtoken sign APP URL [--kind config|agent_config|card] [--agent AGENTID] [--card VALUE]...
                                         JS-SDK signature of a page (wx.config by default), as JSON
  wxtoken platform COMPONENT_APPID [--sync] [--status active|needs_reauthorization]
                   [--page-size N] [--page-token T]
                                         an Open Platform's verify ticket, component token and
                                         authorizers with their status (all of them, read page by
                                         page; --page-size/--page-token: that one page and its
                                         next_page_token); --sync first re-reads the authorizers
                                         and refresh tokens from WeChat (recovery)
  wxtoken callback-ip APP [--wechat URL] [--repeat N] [--interval MS]
                                         call WeChat's getcallbackip with the served token;
                                         recovers by itself from 40001/40014/42001
`;

async function main(argv: string[]): Promise<void> {
  // The whole argv, so that a flag before the command (`wxtoken --help`) is a
  // flag, not an unknown command.
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      addr: { type: "string", default: DEFAULT_ADDR },
      listen: { type: "string" },
      stale: { type: "string" },
      "known-version": { type: "string", default: "0" },
      "known-fingerprint": { type: "string", default: "" },
      timeout: { type: "string", default: "10000" },
      port: { type: "string" },
      host: { type: "string" },
      app: { type: "string", multiple: true },
      "expires-in": { type: "string" },
      "api-key": { type: "string" },
      "tls-ca": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "tls-server-name": { type: "string" },
      wechat: { type: "string" },
      repeat: { type: "string" },
      interval: { type: "string" },
      kind: { type: "string" },
      pidfile: { type: "string" },
      pid: { type: "string" },
      agent: { type: "string" },
      card: { type: "string", multiple: true },
      sync: { type: "boolean" },
      status: { type: "string" },
      "page-size": { type: "string" },
      "page-token": { type: "string" },
      component: { type: "string" },
      "push-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, app] = positionals;
  const n = integerFlags(values);
  const timeout = n.timeout!; // has a default
  const needApp = (): string => app ?? usage(`${command} needs an APP argument`);
  const auth = {
    apiKey: values["api-key"] ?? (process.env.WXTOKEN_API_KEY || undefined),
    tlsCa: values["tls-ca"],
    tlsCert: values["tls-cert"],
    tlsKey: values["tls-key"],
    tlsServerName: values["tls-server-name"],
  };
  switch (values.help ? "help" : command) {
    case "retry":
      return retryCommand({ pid: values.pid, pidfile: values.pidfile, timeoutMs: timeout });
    case "clear-quota":
      return clearQuotaCommand(values.config ?? usage("clear-quota needs --config FILE"), needApp());
    case "serve":
      return serveCommand(values.config ?? usage("serve needs --config FILE"), values.listen, values.pidfile);
    case "demo":
      return demoCommand({ listen: values.listen, expiresIn: n["expires-in"] });
    case "fake-wechat":
      return fakeWeChatCommand({ host: values.host, port: n.port, apps: values.app ?? [], expiresIn: n["expires-in"], component: values.component, pushUrl: values["push-url"] });
    case "get":
      return getCommand(values.addr, needApp(), timeout, auth, parseWhich(values.kind, values.agent));
    case "refresh":
      return refreshCommand(values.addr, needApp(), values.stale ?? usage("refresh needs --stale TOKEN"), timeout, auth, parseWhich(values.kind, values.agent));
    case "watch":
      return watchCommand(values.addr, needApp(), { version: n["known-version"]!, fingerprint: values["known-fingerprint"] }, auth, parseWhich(values.kind, values.agent));
    case "sign":
      return signCommand(values.addr, needApp(), positionals[2] ?? "", timeout, auth, { kind: values.kind, agent: values.agent, card: values.card ?? [] });
    case "platform":
      return platformCommand(values.addr, needApp(), timeout, auth, { sync: values.sync === true, status: values.status, pageSize: n["page-size"], pageToken: values["page-token"] });
    case "hash-key":
      return hashKeyCommand(app);
    case "callback-ip":
      return callbackIpCommand({
        addr: values.addr,
        appId: needApp(),
        wechatBaseUrl: values.wechat ?? DEFAULT_BASE_URL,
        repeat: n.repeat,
        intervalMs: n.interval,
        timeoutMs: timeout,
        auth,
      });
    case "help":
    case undefined:
      process.stdout.write(USAGE);
      return;
    default:
      usage(`unknown command "${command}"`);
  }
}

function usage(message: string): never {
  process.stderr.write(`error: ${message}\n\n${USAGE}`);
  process.exit(2);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // parseArgs's own complaints (an unknown flag, a missing value) are usage errors too.
  if (err instanceof UsageError || String((err as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")) usage((err as Error).message);
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(1);
});
