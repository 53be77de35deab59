/**
 * Health and metrics cover every credential, not only access_tokens: a
 * ticket and a WeCom agent's token each have their health entry (by key) and
 * their gauges and counters (labelled by app, agent and kind).
 */
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { HealthCheckRequest, HealthCheckResponse, HealthCheckResponse_ServingStatus, HealthClient } from "../../generated/grpc/health/v1/health.js";
import { credentials } from "@grpc/grpc-js";
import { APP, eventually, Harness } from "../support/harness.js";

const CORP = "ww0123456789abcdef";
let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe("health and metrics for every credential", () => {
  it("reports a ticket and a WeCom agent's token by key in health, and by app, agent and kind in metrics", async () => {
    h = await Harness.start({
      fakeOptions: { wecom: { [CORP]: { "1000002": "agent-secret" } } },
      env: { AGENT_SECRET: "agent-secret" },
      apps: [
        { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] },
        { type: "wecom", corpId: CORP, agent: "1000002", secretEnv: "AGENT_SECRET", tickets: ["agent_config"] },
      ],
      config: { metrics: { listen: "127.0.0.1:0" } },
    });
    await h.get({ appId: APP, kind: 2 });
    await h.get({ appId: CORP, agent: "1000002", kind: 4 });
    const health = new HealthClient(`127.0.0.1:${h.port}`, credentials.createInsecure());
    const check = (service: string) =>
      new Promise<HealthCheckResponse>((resolve, reject) =>
        health.check(HealthCheckRequest.fromPartial({ service }), (err, res) => (err ? reject(err) : resolve(res))),
      );
    try {
      for (const key of [`${APP}#jsapi_ticket`, `${CORP}/1000002`, `${CORP}/1000002#agent_config_ticket`]) {
        await eventually(async () => expect((await check(`wxtoken.v1.TokenService/${key}`)).status).toBe(HealthCheckResponse_ServingStatus.SERVING));
      }
    } finally {
      health.close();
    }
    const text = await (await request(`http://127.0.0.1:${h.server.metricsPort}/metrics`)).body.text();
    expect(text).toContain(`wxtoken_token_version{app_id="${APP}",agent="",kind="jsapi_ticket"} 1`);
    expect(text).toContain(`wxtoken_token_version{app_id="${CORP}",agent="1000002",kind="access_token"} 1`);
    expect(text).toContain(`wxtoken_token_version{app_id="${CORP}",agent="1000002",kind="agent_config_ticket"} 1`);
    expect(text).toMatch(new RegExp(`wxtoken_upstream_calls_total\\{app_id="${CORP}",agent="1000002",kind="agent_config_ticket",endpoint="ticket/get\\?type=agent_config",errcode="0"\\} 1`));
  });
});
