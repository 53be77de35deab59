/** Which token a client keeps when tokens come from more than one server lineage. */
import { describe, expect, it } from "vitest";
import type { Token } from "../../generated/wxtoken/v1/token_service.js";
import { isNewer } from "../../packages/client/src/token-order.js";

const T0 = Date.UTC(2026, 10, 25, 8, 0, 0);
function token(version: number, accessToken: string, obtainedAt: number): Token {
  return {
    appId: "wx1111111111111111",
    accessToken,
    version,
    obtainedAt: new Date(obtainedAt),
    expiresAt: new Date(obtainedAt + 7200_000),
    refreshAt: new Date(obtainedAt + 6900_000),
    fingerprint: accessToken.slice(0, 8),
    kind: 1,
    agent: "",
    platformId: "",
  };
}

describe("isNewer", () => {
  const held = token(5, "tok-five", T0);

  it("takes anything when nothing is held", () => {
    expect(isNewer(held, undefined)).toBe(true);
  });

  it("takes a higher version", () => {
    expect(isNewer(token(6, "tok-six", T0 + 1000), held)).toBe(true);
  });

  it("never goes back within a lineage: an older or equal version obtained no later", () => {
    expect(isNewer(token(4, "tok-four", T0 - 1000), held)).toBe(false);
    expect(isNewer(token(5, "tok-five", T0), held)).toBe(false);
    // The same token again (a replica resending it) is not news.
    expect(isNewer(token(5, "tok-five", T0 + 1000), held)).toBe(false);
  });

  it("follows a restarted lineage: a lower version, but another token obtained later", () => {
    expect(isNewer(token(1, "tok-restart", T0 + 60_000), held)).toBe(true);
    // Same version, another token, same instant: only another lineage can do that.
    expect(isNewer(token(5, "tok-restart", T0), held)).toBe(true);
  });

  it("does not follow another token obtained earlier (a replica that is behind)", () => {
    expect(isNewer(token(1, "tok-old-replica", T0 - 60_000), held)).toBe(false);
  });
});
