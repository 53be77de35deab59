/**
 * A full run, failures included, with every output captured: logs, metrics,
 * gRPC error messages and their binary details, responses, the store. The
 * appsecret appears in none of them, in any encoding.
 */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { FakeClock } from "../src/clock.js";
import { FakeWeChat } from "../src/fake-wechat/index.js";
import { APP, APP2, eventually, Harness, SECRETS, tempDir } from "./support/harness.js";

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
  fake = new FakeWeChat({ apps: SECRETS, clock, expiresIn: 600 });
  await fake.start();
  const storePath = join(tempDir(), "tokens.json");
  h = await Harness.start({ clock, fake, storePath, config: { metrics: { listen: "127.0.0.1:0" } } });
  const outputs: string[] = [];
  const record = (x: unknown): void => {
    outputs.push(typeof x === "string" ? x : JSON.stringify(x));
  };
  const recordError = (err: ServiceError): void => {
    record(err.message);
    record(err.details);
    const bin = err.metadata?.get("grpc-status-details-bin")[0];
    if (bin) outputs.push(Buffer.from(bin as Buffer).toString("latin1"));
  };

  // Successes.
  const t = (await h.getToken(APP)).token!;
  record(t);
  record(await h.forceRefresh(APP, t.accessToken));
  // WeChat failures whose errmsg echoes the secret, the way a proxy or a bug might.
  for (const errcode of [40125, 40013, 40164, 45009, -1]) {
    fake.inject({ appId: APP2, errcode, errmsg: `bad secret ${SECRETS[APP2]} given`, times: 1 });
    await h.clock.advance(2 * 3600_000);
    try {
      record(await h.getToken(APP2));
    } catch (err) {
      recordError(err as ServiceError);
    }
  }
  // Transport failures: garbage, 502, dropped connections.
  for (const fault of [{ garbage: true }, { httpStatus: 502 }, { drop: true }]) {
    fake.inject({ ...fault, appId: APP, times: 3 });
    const current = (await h.getToken(APP)).token!;
    await h.forceRefresh(APP, current.accessToken).then(record, (e: ServiceError) => recordError(e));
    fake.clearFaults();
  }
  // Client mistakes.
  for (const p of [h.getToken("wxunknown"), h.getToken(""), h.forceRefresh(APP, "")]) await p.then(record, recordError);
  // A watch.
  const watch = h.client.watchToken({ appId: APP, knownVersion: 0, knownFingerprint: "" }, new Metadata());
  watch.on("data", record);
  watch.on("error", (e: ServiceError) => recordError(e));
  await eventually(() => expect(outputs.some((o) => o.includes(`"appId":"${APP}"`))).toBe(true));

  // Metrics, scraped over HTTP.
  const metrics = await fetch(`http://127.0.0.1:${h.server.metricsPort}/metrics`).then((r) => r.text());
  expect(metrics).toMatch(/wxtoken_upstream_calls_total/);
  expect(metrics).toMatch(/errcode="40125"/);
  outputs.push(metrics);

  const logs = h.logs;
  await h.stop();
  h = undefined;
  outputs.push(readFileSync(storePath, "utf8"));

  // Every log line, from the first to the shutdown.
  expect(logs.lines.length).toBeGreaterThan(20);
  expect(logs.text()).toMatch(/token refresh failed/);
  const everything = [...outputs, logs.text()].join("\n");
  expect(outputs.length).toBeGreaterThan(15);
  expect(everything).toContain("errcode 40125");
  expect(everything).toContain("rid:");
  for (const secret of Object.values(SECRETS)) {
    for (const form of forms(secret)) expect(everything).not.toContain(form);
  }
});
