/**
 * The metrics HTTP endpoint, on its own port (so a scraper never needs the
 * gRPC port, and the gRPC port never speaks HTTP/1.1): GET /metrics answers
 * the Prometheus text format, /healthz and /readyz the probes
 * (src/listeners/probes.ts); anything else is 404. A Host that is not a
 * loopback name, an IP address or in metrics.allowedHosts is refused (421):
 * the port has no authentication, and a page using DNS rebinding must not
 * read which apps are configured and their quota use.
 */
import { createServer, type Server } from "node:http";
import type { Logger } from "../log.js";
import { httpServerOptions, limitHttpServer, type HttpLimits } from "../listeners/http-limits.js";
import { HostCheck, HostGuard } from "../listeners/host-check.js";
import { listen } from "../listeners/listen.js";
import { answerProbe, type Readiness } from "../listeners/probes.js";
import { answerStatus, type StatusSource } from "./status-page.js";
import type { Metrics } from "./metrics.js";

export interface MetricsEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `limits`: the connection cap and timeouts (connections.metrics); without them, the default timeouts and no cap.
 * `hosts`: the Host check (default: loopback names and IP addresses).
 * `probes`: answers GET /healthz and /readyz too.
 * `status`: answers the status page, GET /status and /status.json (src/metrics/status-page.ts).
 */
export async function serveMetrics(
  metrics: Metrics,
  address: string,
  log: Logger,
  limits?: HttpLimits,
  opts: { hosts?: HostCheck; probes?: Readiness; status?: StatusSource } = {},
): Promise<MetricsEndpoint> {
  const hosts = new HostGuard({
    check: opts.hosts ?? new HostCheck(),
    listener: "metrics",
    configKey: "metrics.allowedHosts",
    log,
    clock: metrics.clock,
    onRefused: () => metrics.hostRefused("metrics"),
  });
  const server: Server = createServer(httpServerOptions(limits), (req, res) => {
    const wrongHost = hosts.refusal(req);
    if (wrongHost !== undefined) {
      res.writeHead(421, { "content-type": "text/plain; charset=utf-8", connection: "close" }).end(`${wrongHost}\n`);
      return;
    }
    if (opts.probes && answerProbe(req, res, opts.probes)) return;
    if (opts.status && answerStatus(req, res, opts.status, metrics.clock)) return;
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end(`not found: GET /metrics${opts.probes ? ", /healthz, /readyz" : ""}${opts.status ? ", /status" : ""}\n`);
      return;
    }
    metrics.scrape().then(
      (text) => res.writeHead(200, { "content-type": metrics.contentType }).end(text),
      (err: unknown) => {
        log.error({ err }, "metrics scrape failed");
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("scrape failed\n");
      },
    );
  });
  // A scraper that never finishes its request does not hold a connection.
  limitHttpServer(server, limits, 30_000);
  const bound = await listen(server, address, "metrics.listen");
  log.info({ address, port: bound }, "metrics listening (GET /metrics)");
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        hosts.flush();
      }),
  };
}
