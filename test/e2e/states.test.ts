/**
 * One vocabulary for credential states, as for kinds (kinds.test.ts): every
 * spelling (the name, the enum's name, its number) is taken by every surface
 * that filters by state: the HTTP API's and the status page's ?state_filter=,
 * the gRPC enum, the client's listCredentials; an unknown state is refused
 * with the valid values listed, by the client at once, before any call.
 * (The CLI's --state: test/cli/cli-status.test.ts.)
 */
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { CredentialState, ListCredentialsRequest, type ListCredentialsResponse } from "../../generated/wxtoken/v1/token_service.js";
import { CREDENTIAL_STATE_TABLE, InvalidStateError, TokenClient } from "../../packages/client/src/index.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { APP, APP2, eventually, grpcError, Harness } from "../support/harness.js";

// Written out, not derived from states.ts: name, enum name, number.
const EXPECTED = [
  ["ok", "CREDENTIAL_STATE_OK", 1],
  ["failing", "CREDENTIAL_STATE_FAILING", 2],
  ["down", "CREDENTIAL_STATE_DOWN", 3],
  ["idle", "CREDENTIAL_STATE_IDLE", 4],
] as const;
const VALID_LIST = "ok (CREDENTIAL_STATE_OK, 1), failing (CREDENTIAL_STATE_FAILING, 2), down (CREDENTIAL_STATE_DOWN, 3), idle (CREDENTIAL_STATE_IDLE, 4)";
/** Every way to name the down state, as a query has it. */
const DOWN_SPELLINGS = ["down", "CREDENTIAL_STATE_DOWN", "3"] as const;

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** APP (token and jsapi ticket) is ok; APP2 is refused by WeChat (40164) from the start: down. */
async function start(): Promise<Harness> {
  h = await Harness.start({
    apps: [
      { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] },
      { appId: APP2, secretEnv: `SECRET_${APP2}` },
    ],
    faults: [{ appId: APP2, errcode: 40164, times: Infinity }],
    config: { http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" } },
  });
  const harness = h;
  await eventually(() => expect(harness.server.engine.index.counts()).toMatchObject({ ok: 2, down: 1 }));
  return harness;
}

const apps = (body: { credentials?: { appId: string; state: unknown }[] }) => (body.credentials ?? []).map((c) => [c.appId, c.state]);

describe("the states table", () => {
  it("has each state's name, enum name and number, matching the proto enum", () => {
    expect(CREDENTIAL_STATE_TABLE.map((s) => [s.name, s.enumName, s.number])).toEqual(EXPECTED);
    for (const [, enumName, number] of EXPECTED) expect(CredentialState[enumName]).toBe(number);
  });
});

describe("every spelling of a state, on every surface", () => {
  it("HTTP: /v1/credentials and the status page's /status.json take the name, the enum name and the number; an unknown state is a 400 listing the valid ones", async () => {
    const harness = await start();
    const surfaces = [`http://127.0.0.1:${harness.server.httpPort}/v1/credentials`, `http://127.0.0.1:${harness.server.metricsPort}/status.json`];
    for (const base of surfaces) {
      for (const spelling of DOWN_SPELLINGS) {
        const res = await fetch(`${base}?state_filter=${spelling}`);
        expect([base, spelling, res.status, apps((await res.json()) as never)]).toEqual([base, spelling, 200, [[APP2, "CREDENTIAL_STATE_DOWN"]]]);
      }
      const ok = await fetch(`${base}?state_filter=ok`);
      expect(apps((await ok.json()) as never)).toEqual([[APP, "CREDENTIAL_STATE_OK"], [APP, "CREDENTIAL_STATE_OK"]]);
      // Exact, as kinds are: the valid values are listed instead.
      for (const bad of ["OK", "broken", "9"]) {
        const res = await fetch(`${base}?state_filter=${bad}`);
        const body = (await res.json()) as { message: string; reason?: string; details?: { reason: string }[] };
        expect([base, bad, res.status, body.message]).toEqual([base, bad, 400, `field "state_filter" is not a credential state: "${bad}"; valid states: ${VALID_LIST}`]);
        expect(body.reason ?? body.details?.[0]?.reason).toBe("INVALID_STATE_FILTER");
      }
    }
  });

  it("gRPC: an unknown number is INVALID_ARGUMENT listing the valid states", async () => {
    const harness = await start();
    const list = (stateFilter: number) =>
      new Promise<ListCredentialsResponse>((resolve, reject) =>
        harness.client.listCredentials(ListCredentialsRequest.fromPartial({ stateFilter }), (err, res) => (err ? reject(err) : resolve(res))),
      );
    expect((await list(CredentialState.CREDENTIAL_STATE_DOWN)).credentials.map((c) => c.appId)).toEqual([APP2]);
    const err = await grpcError(list(9));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe(`state_filter is not a CredentialState this server knows; valid states: ${VALID_LIST}`);
    expect(statusDetailsOf(err.metadata)?.errorInfo?.reason).toBe("INVALID_STATE_FILTER");
  });

  it("the client's listCredentials takes every spelling, and refuses an unknown one before any call", async () => {
    const harness = await start();
    const grpc = new TokenClient(`127.0.0.1:${harness.port}`);
    try {
      for (const state of ["down", "CREDENTIAL_STATE_DOWN", CredentialState.CREDENTIAL_STATE_DOWN] as const) {
        expect([state, (await grpc.listCredentials({ state })).credentials.map((c) => c.appId)]).toEqual([state, [APP2]]);
      }
    } finally {
      grpc.close();
    }
    // Nothing listens on port 1: a call that went out would fail UNAVAILABLE instead.
    const nowhere = new TokenClient("127.0.0.1:1");
    try {
      const err = await nowhere.listCredentials({ state: "DOWN" as never }).then(() => expect.fail("accepted an unknown state"), (e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidStateError);
      expect(err).toMatchObject({ code: "INVALID_STATE_FILTER", message: `unknown credential state "DOWN"; valid states: ${VALID_LIST}` });
    } finally {
      nowhere.close();
    }
  });
});
