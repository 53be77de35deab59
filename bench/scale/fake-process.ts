/**
 * The fake WeChat as its own process for the scale bench: the Open Platform
 * component with N authorized accounts (seeded in one step), pushing to the
 * server's receiver. Its own process so that the fake's CPU and memory are
 * never counted as the server's. The bench follows it over its control API
 * (/_fake/component/progress, /_fake/rates).
 */
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import type { FakeStart } from "./fake.js";

let fake: FakeWeChat | undefined;

process.on("message", (m: FakeStart | { type: "stop" }) => {
  if (m.type === "start") {
    fake = new FakeWeChat({
      apps: {},
      // A refresh wave with short lifetimes supersedes each token once per cycle; the overlap is WeChat's default.
      component: { ...m.component, seedAuthorizers: m.authorizers > 0 ? m.authorizers : undefined, expiresIn: m.expiresIn },
    });
    fake.start().then(
      (url) => process.send!({ type: "ready", url }),
      (err: Error) => {
        console.error(`fake-process: ${err.stack ?? err.message}`);
        process.exit(1);
      },
    );
  } else if (m.type === "stop") {
    void (fake?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  }
});
