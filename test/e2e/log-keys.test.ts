/**
 * One meaning per log key: a ticket's logger names the credential's `kind`
 * (jsapi_ticket), so an error's kind (quota, transient, ...) goes under
 * `errorKind`. JSON parsers keep only the last of two equal keys, so the raw
 * text of every line is checked, not what JSON.parse makes of it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { APP, eventually, Harness } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** The keys an object in `text` repeats, at any depth (a reader of JSON text, not JSON.parse, which keeps the last). */
function duplicateKeys(text: string): string[] {
  let i = 0;
  const dups: string[] = [];
  const ws = () => {
    while (/\s/.test(text[i] ?? "")) i++;
  };
  const str = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const seen = new Set<string>();
      ws();
      while (text[i] !== "}") {
        ws();
        const key = str();
        if (seen.has(key)) dups.push(key);
        seen.add(key);
        ws();
        i++; // :
        value();
        ws();
        if (text[i] === ",") i++;
        ws();
      }
      i++;
    } else if (c === "[") {
      i++;
      ws();
      while (text[i] !== "]") {
        value();
        ws();
        if (text[i] === ",") i++;
        ws();
      }
      i++;
    } else if (c === '"') {
      str();
    } else {
      while (i < text.length && !/[,}\]\s]/.test(text[i]!)) i++;
    }
  };
  value();
  return dups;
}

describe("log lines of a failing ticket refresh", () => {
  it("the reader finds a repeated key (it can fail)", () => {
    expect(duplicateKeys('{"kind":"jsapi_ticket","a":{"b":1,"b":2},"kind":"quota"}')).toEqual(["b", "kind"]);
    expect(duplicateKeys('{"kind":"jsapi_ticket","errorKind":"quota","s":"\\"kind\\":1"}')).toEqual([]);
  });

  it("name the credential's kind and the error's kind under different keys, with no key twice", async () => {
    h = await Harness.start({
      apps: [{ appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] }],
      faults: [{ path: "/cgi-bin/ticket/getticket", appId: APP, errcode: 45009, times: 1 }],
    });
    await eventually(() => expect(h!.logs.text()).toMatch(/"kind":"jsapi_ticket".*"refresh failed"/));
    // The operator reset the quota: the ticket retries at once (another line from the ticket's logger).
    expect(h.server.retryFailing()).toEqual([`${APP}#jsapi_ticket`]);
    await eventually(() => expect(h!.logs.text()).toMatch(/"kind":"jsapi_ticket".*"retrying at once"/));

    const ticketLines = h.logs.lines.filter((l) => l.includes('"kind":"jsapi_ticket"'));
    const failed = ticketLines.filter((l) => l.includes('"msg":"refresh failed"'));
    const retrying = ticketLines.filter((l) => l.includes('"msg":"retrying at once"'));
    expect(failed).toHaveLength(1);
    expect(retrying).toHaveLength(1);
    expect(JSON.parse(failed[0]!)).toMatchObject({ appId: APP, kind: "jsapi_ticket", errorKind: "quota", errcode: 45009 });
    expect(JSON.parse(retrying[0]!)).toMatchObject({ appId: APP, kind: "jsapi_ticket", errorKind: "quota" });
    for (const line of h.logs.lines) expect(duplicateKeys(line), line).toEqual([]);
  });
});
