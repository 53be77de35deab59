import { credentials } from "@grpc/grpc-js";
import { it } from "vitest";
import { TokenServiceClient } from "../generated/wxtoken/v1/token_service.js";
import { APP, Harness } from "./support/harness.js";
it("debug", async () => {
  const h = await Harness.start();
  await h.getToken(APP);
  const c = new TokenServiceClient(`127.0.0.1:${h.port}`, credentials.createInsecure());
  for (let i = 0; i < 200; i++) { const s = c.watchToken({ appId: APP, knownVersion: 0 }); s.on("error", () => undefined); s.cancel(); }
  await new Promise((r) => setTimeout(r, 1000));
  const ws = [...h.server.tokens["watchers"]] as any[];
  console.log("leaked", ws.length);
  const w = ws[0];
  if (w) {
    const call = w.call;
    console.log("cancelled", call.cancelled, "peer", call.getPeer(), "writableLength", call.writableLength, "destroyed", call.destroyed);
    let inner = call.call; let depth = 0;
    while (inner && depth < 5) { console.log(depth, inner.constructor.name, "cancelled", inner.cancelled, "streamDestroyed", inner.stream?.destroyed, inner.stream?.closed); inner = inner.nextCall; depth++; }
  }
  c.close(); await h.stop();
});
