/**
 * A full run, failures included, with every output captured: logs, metrics,
 * gRPC error messages and their binary details, responses, the store. The
 * appsecret appears in none of them, in any encoding, whether it travels in a
 * query string (/cgi-bin/token) or in a POST body (/cgi-bin/stable_token); no
 * access_token appears in the logs (only fingerprints); WeChat's rid does.
 */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { fingerprint } from "../../src/fingerprint.js";
import { APP, APP2, eventually, Harness, SECRETS, tempDir } from "../support/harness.js";

/** An app on POST /cgi-bin/stable_token, its secret given inline in the config. */
const STABLE = "wx3333333333333333";
const ALL_SECRETS: Record<string, string> = { ...SECRETS, [STABLE]: "s3cr3t-stable-SHOULD-NEVER-LEAK-0003" };

let h: Harness | undefined;
let fake: FakeWeChat | undefined;
afterEach(async () => {
  await h?.stop();
  await fake?.close();
  h = fake = undefined;
});

function forms(secret: string): string[] {
  return [secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64"), JSON.stringify(secret).slice(1, -1)];
}

it("the appsecret never leaves the server: logs, metrics, errors, details, responses, store", async () => {
  const clock = new FakeClock();
  fake = new FakeWeChat({ apps: ALL_SECRETS, clock, expiresIn: 600 });
  await fake.start();
  // The default store: a SQLite database, read below as bytes.
  const storePath = join(tempDir(), "wxtoken.db");
  const apps = [
    { appId: APP, secretEnv: `SECRET_${APP}` },
    { appId: APP2, secretEnv: `SECRET_${APP2}` },
    { appId: STABLE, secret: ALL_SECRETS[STABLE]!, endpoint: "stable_token" as const },
  ];
  h = await Harness.start({ clock, fake, config: { apps, store: { type: "sqlite", path: storePath }, metrics: { listen: "127.0.0.1:0" } } });
  const outputs: string[] = [];
  const served = new Set<string>();
  const record = (x: unknown): void => {
    const r = x as { token?: { accessToken?: string }; accessToken?: string };
    const token = r?.token?.accessToken ?? r?.accessToken;
    if (token) served.add(token);
    outputs.push(typeof x === "string" ? x : JSON.stringify(x));
  };
  const recordError = (err: ServiceError): void => {
    record(err.message);
    record(err.details);
    const bin = err.metadata?.get("grpc-status-details-bin")[0];
    if (bin) outputs.push(Buffer.from(bin as Buffer).toString("latin1"));
  };

  // Successes, on both endpoints.
  for (const app of [APP, STABLE]) {
    const t = (await h.getToken(app)).token!;
    record(t);
    record(await h.forceRefresh(app, t.accessToken));
  }
  // WeChat failures whose errmsg echoes the secret, the way a proxy or a bug might
  // (path "*": on /cgi-bin/stable_token too).
  for (const errcode of [40125, 40013, 40164, 45009, -1]) {
    for (const app of [APP2, STABLE]) fake.inject({ path: "*", appId: app, errcode, errmsg: `bad secret ${ALL_SECRETS[app]} given`, times: 1 });
    await h.clock.advance(2 * 3600_000);
    for (const app of [APP2, STABLE]) await h.getToken(app).then(record, recordError);
  }
  // Transport failures: garbage, 502, dropped connections.
  for (const fault of [{ garbage: true }, { httpStatus: 502 }, { drop: true }]) {
    for (const app of [APP, STABLE]) {
      fake.inject({ ...fault, path: "*", appId: app, times: 3 });
      const current = (await h.getToken(app)).token!;
      record(current);
      await h.forceRefresh(app, current.accessToken).then(record, recordError);
      fake.clearFaults();
      // stable_token forces at most once per 30 s.
      await h.clock.advance(31_000);
    }
  }
  // Client mistakes.
  for (const p of [h.getToken("wxunknown"), h.getToken(""), h.forceRefresh(APP, "")]) await p.then(record, recordError);
  // A watch.
  const watch = h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" }, new Metadata());
  watch.on("data", record);
  watch.on("error", (e: ServiceError) => recordError(e));
  await eventually(() => expect(outputs.some((o) => o.includes(`"appId":"${APP}"`))).toBe(true));

  // Metrics, scraped over HTTP.
  const metrics = await fetch(`http://127.0.0.1:${h.server.metricsPort}/metrics`).then((r) => r.text());
  expect(metrics).toMatch(/wxtoken_upstream_calls_total/);
  expect(metrics).toMatch(/errcode="40125"/);
  outputs.push(metrics);
  // The probes and the status page on the same port.
  for (const path of ["/healthz", "/readyz", "/status", "/status.json"]) outputs.push(await fetch(`http://127.0.0.1:${h.server.metricsPort}${path}`).then((r) => r.text()));
  const status = outputs.at(-1)!;
  expect(status).toContain(`"appId":"${STABLE}"`);
  // ListCredentials: the same, over gRPC.
  const listed = await new Promise<unknown>((resolve, reject) => h!.client.listCredentials({ pageSize: 0, pageToken: "", appId: "", kindFilter: 0, stateFilter: 0, search: "" }, (err, res) => (err ? reject(err) : resolve(res))));
  record(listed);

  const logs = h.logs;
  await h.stop();
  h = undefined;
  // Closed: the log was checkpointed into the database file, which holds every record.
  outputs.push(readFileSync(storePath).toString("latin1"));

  // Every log line, from the first to the shutdown.
  expect(logs.lines.length).toBeGreaterThan(20);
  expect(logs.text()).toMatch(/refresh failed/);
  const everything = [...outputs, logs.text()].join("\n");
  expect(outputs.length).toBeGreaterThan(15);
  expect(everything).toContain("errcode 40125");
  expect(everything).toContain("rid:");
  expect(fake.calls("/cgi-bin/stable_token", STABLE)).toBeGreaterThan(5);
  for (const secret of Object.values(ALL_SECRETS)) {
    for (const form of forms(secret)) expect(everything).not.toContain(form);
  }

  // Tokens: in the logs (and metrics) only as fingerprints.
  expect(served.size).toBeGreaterThan(5);
  const logged = logs.text() + metrics + status + JSON.stringify(listed);
  for (const token of served) {
    expect(logged).not.toContain(token);
    expect(logs.text()).toContain(fingerprint(token));
  }

  // WeChat's rid is what its support asks for: every refusal's log line has it, as a field.
  const failures = logs.lines
    .map((l) => JSON.parse(l) as { msg: string; appId?: string; errcode?: number; rid?: string })
    .filter((l) => l.msg === "refresh failed" && l.errcode !== undefined);
  expect(new Set(failures.map((l) => l.appId))).toEqual(new Set([APP2, STABLE]));
  for (const l of failures) expect(l.rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
});
