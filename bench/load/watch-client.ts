/**
 * Load process for the fan-out bench: holds N WatchToken streams (spread over
 * HTTP/2 connections), or N server-sent event streams (one HTTP/1.1
 * connection each), and reports when every subscriber has a version, with
 * the wall-clock time of the first, median and last delivery.
 */
import { credentials, type ClientReadableStream } from "@grpc/grpc-js";
import { get, type ClientRequest } from "node:http";
import { TokenServiceClient, type WatchTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import type { Subscribe, ToWatchClient } from "../support/protocol.js";
import { percentile, wallMs } from "../support/stats.js";

interface Arrivals {
  times: Float64Array;
  count: number;
  duplicates: number;
}

const clients: InstanceType<typeof TokenServiceClient>[] = [];
const streams: ClientReadableStream<WatchTokenResponse>[] = [];
const requests: ClientRequest[] = [];
const send = (m: object): void => void process.send!(m);

async function subscribe(req: Subscribe): Promise<void> {
  const n = req.subscribers;
  const connections = Math.ceil(n / req.perConnection);
  for (let i = 0; i < connections; i++) {
    // A local subchannel pool gives each client its own connection.
    clients.push(new TokenServiceClient(req.target, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }));
  }
  const lastSeen = new Float64Array(n);
  const byVersion = new Map<number, Arrivals>();
  let initial: number | undefined;
  const start = wallMs();

  const arrived = (i: number, version: number, at: number): void => {
    let a = byVersion.get(version);
    if (!a) byVersion.set(version, (a = { times: new Float64Array(n), count: 0, duplicates: 0 }));
    if (version <= lastSeen[i]!) {
      a.duplicates++;
      if (version < lastSeen[i]!) send({ type: "error", message: `subscriber ${i} got v${version} after v${lastSeen[i]}` });
      return;
    }
    lastSeen[i] = version;
    a.times[a.count++] = at;
    if (a.count < n) return;
    initial ??= version;
    if (version === initial) {
      send({ type: "subscribed", version, ms: at - start });
    } else {
      send({ type: "delivered", version, first: a.times[0], last: at, median: percentile(a.times, 50), duplicates: a.duplicates });
    }
    byVersion.delete(version);
  };

  if (req.transport === "sse") {
    const [host, port] = [req.target.slice(0, req.target.lastIndexOf(":")), Number(req.target.slice(req.target.lastIndexOf(":") + 1))];
    for (let i = 0; i < n; i++) {
      requests.push(sseWatch(host, port, req.appId, i, (version) => arrived(i, version, wallMs())));
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const stream = clients[i % connections]!.watchToken({ appId: req.appId, knownVersion: 0, knownFingerprint: "", kind: 0, agent: "", platformId: "" });
    stream.on("data", (m: WatchTokenResponse) => arrived(i, m.token!.version, wallMs()));
    stream.on("error", (err: Error) => {
      if (!stopping) send({ type: "error", message: `subscriber ${i}: ${err.message}` });
    });
    streams.push(stream);
    // Let the event loop breathe while thousands of calls start.
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
}

/** One event stream on a connection of its own (agent: false); calls onVersion for each token event. */
function sseWatch(host: string, port: number, appId: string, i: number, onVersion: (version: number) => void): ClientRequest {
  const request = get({ host, port, path: `/v1/apps/${appId}/token:watch`, agent: false, headers: { accept: "text/event-stream" } }, (res) => {
    if (res.statusCode !== 200) send({ type: "error", message: `subscriber ${i}: HTTP ${res.statusCode}` });
    res.setEncoding("utf8");
    let buffered = "";
    res.on("data", (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf("\n\n"); end >= 0; end = buffered.indexOf("\n\n")) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (!event.includes("event: token")) continue;
        const data = event.slice(event.indexOf("data: ") + 6);
        onVersion(Number((JSON.parse(data) as { token: { version: string } }).token.version));
      }
    });
  });
  request.on("error", (err: Error) => {
    if (!stopping) send({ type: "error", message: `subscriber ${i}: ${err.message}` });
  });
  return request;
}

let stopping = false;
process.on("message", (m: ToWatchClient) => {
  if (m.type === "subscribe") {
    subscribe(m).catch((err: Error) => send({ type: "error", message: err.stack ?? err.message }));
  } else if (m.type === "stop") {
    stopping = true;
    for (const s of streams) s.cancel();
    for (const c of clients) c.close();
    for (const r of requests) r.destroy();
    // Give the RST_STREAMs a moment to leave before the sockets go.
    setTimeout(() => process.exit(0), 200);
  }
});
