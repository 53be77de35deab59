/**
 * deploy/k8s: the manifests parsed as Kubernetes reads them, and checked
 * against each other, against the image (deploy/Dockerfile) and against the
 * server: the ConfigMap's config passes the real `wxtoken check-config`, and
 * the probes, ports and Prometheus annotations point at what that config
 * really listens on.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { freePort, useCli } from "../support/cli.js";
import { checkConfig, dockerfile, manifests, portOf, standIns, type Manifest } from "../support/deploy.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const fixture = useCli();
const all = manifests("deploy/k8s");
const one = (kind: string, name?: string): Manifest => {
  const found = all.filter((m) => m.kind === kind && (name === undefined || m.metadata?.name === name));
  expect(found, `exactly one ${kind} ${name ?? ""}`).toHaveLength(1);
  return found[0]!;
};
const deployment = one("Deployment");
const pod = deployment.spec.template.spec as Manifest;
const container = pod.containers[0] as Manifest;
const configMap = one("ConfigMap");
const secret = one("Secret");
const mountOf = (volumeName: string): Manifest => container.volumeMounts.find((m: Manifest) => m.name === volumeName);
const volume = (pred: (v: Manifest) => boolean): Manifest => pod.volumes.find(pred);

/** The config file the container is told to serve, found through its --config argument and the volume mounted there. */
function servedConfig(): { text: string; path: string } {
  const args = container.args as string[];
  expect(args.slice(0, 2)).toEqual(["serve", "--config"]);
  const path = args[2]!;
  const configVolume = volume((v) => v.configMap?.name === configMap.metadata.name);
  expect(mountOf(configVolume.name).mountPath).toBe(dirname(path));
  const text = configMap.data[path.slice(dirname(path).length + 1)] as string | undefined;
  expect(text, `the ConfigMap has no key for ${path}`).toBeDefined();
  return { text: text!, path };
}
const config = JSON.parse(servedConfig().text) as Manifest;
const containerPort = (nameOrNumber: string | number): number =>
  typeof nameOrNumber === "number" ? nameOrNumber : container.ports.find((p: Manifest) => p.name === nameOrNumber)!.containerPort;

describe("deploy/k8s", () => {
  it("runs 3 replicas on a Redis store, rolling one pod at a time", () => {
    expect(deployment.spec.replicas).toBe(3);
    expect(config.store.type).toBe("redis");
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it("the ConfigMap's config passes wxtoken check-config, its secrets being the Secret's files and env", async () => {
    const secretVolume = volume((v) => v.secret?.secretName === secret.metadata.name);
    const secretDir = mountOf(secretVolume.name).mountPath as string;
    const summary = await checkConfig(fixture.cli, config, (path) => {
      expect(dirname(path), `${path} is not in the Secret's mount`).toBe(secretDir);
      const item = (secretVolume.secret.items as Manifest[]).find((i) => i.path === path.slice(secretDir.length + 1));
      expect(item, `no item of the Secret volume is ${path}`).toBeDefined();
      expect(Object.keys(secret.stringData)).toContain(item!.key);
    });
    expect(summary).toMatchObject({ valid: true, store: { type: "redis" } });
    expect(summary.clients).not.toBe("open (no client authentication)");
    for (const name of [config.store.passwordEnv as string]) {
      const env = (container.env as Manifest[]).find((e) => e.name === name);
      expect(env?.valueFrom?.secretKeyRef?.name).toBe(secret.metadata.name);
      expect(Object.keys(secret.stringData)).toContain(env!.valueFrom.secretKeyRef.key);
    }
  });

  it("every Secret key referenced exists in the template, whose values are placeholders", () => {
    const referenced = [
      ...(container.env as Manifest[]).filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.valueFrom.secretKeyRef.key as string),
      ...(volume((v) => v.secret !== undefined).secret.items as Manifest[]).map((i) => i.key as string),
    ];
    expect(referenced.length).toBeGreaterThan(0);
    for (const key of referenced) expect(Object.keys(secret.stringData)).toContain(key);
    for (const value of Object.values(secret.stringData)) expect(value).toMatch(/^REPLACE-WITH-/);
    const kustomization = one("Kustomization");
    expect(kustomization.resources).not.toContain(secret.file);
    for (const m of all.filter((x) => x.kind !== "Kustomization" && x.kind !== "Secret")) expect(kustomization.resources).toContain(m.file);
  });

  it("probes the listeners the config opens, on the pod's address: readiness without the shared store, liveness /healthz", () => {
    const probePorts = [portOf(config.metrics.listen), portOf(config.http.listen)];
    for (const address of [config.metrics.listen, config.http.listen, config.listen]) expect(address).toMatch(/^(:|0\.0\.0\.0:|\[::\]:)\d+$/);
    const { readinessProbe, livenessProbe } = container;
    // Redis is shared: a /readyz with the store check would fail every replica at once (docs/operations.md#http-probes).
    expect(readinessProbe.httpGet.path).toBe("/readyz?exclude=store");
    expect(livenessProbe.httpGet.path).toBe("/healthz");
    for (const probe of [readinessProbe, livenessProbe]) expect(probePorts).toContain(containerPort(probe.httpGet.port));
  });

  it("served for real (ports moved, Redis the test's, WeChat the fake), it answers both probes 200 where the Deployment asks", async () => {
    const { config: local, env } = standIns(config, () => {});
    const fake = new FakeWeChat({ apps: Object.fromEntries((local.apps as Manifest[]).map((a) => [a.appId, readFileSync(a.secretFile, "utf8").trim()])) });
    await fake.start();
    fixture.defer(() => fake.close());
    const prefix = uniquePrefix();
    fixture.defer(() => dropPrefix(SHARED_REDIS_URL, prefix));
    // Each port the config opens, moved to a free one (the test machine's 50051 may be taken).
    const moved = new Map<number, number>();
    for (const address of [local.listen, local.http.listen, local.metrics.listen]) moved.set(portOf(address), await freePort());
    const at = (address: string): string => address.replace(/\d+$/, String(moved.get(portOf(address))));
    const store = { ...local.store, url: SHARED_REDIS_URL, keyPrefix: prefix };
    delete store.passwordEnv; // the test's Redis has none
    await fixture.cli.serve(
      { ...local, listen: at(local.listen), http: { ...local.http, listen: at(local.http.listen) }, metrics: { ...local.metrics, listen: at(local.metrics.listen) }, upstream: { baseUrl: fake.url }, store },
      { env },
    );
    const ask = (probe: Manifest) => fetch(`http://127.0.0.1:${moved.get(containerPort(probe.httpGet.port))}${probe.httpGet.path}`);
    const live = await ask(container.livenessProbe);
    expect(live.status).toBe(200);
    const ready = await ask(container.readinessProbe);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checks: { started: "ok", store: "excluded", shutdown: "ok" } });
  });

  it("declares the ports the config listens on, and the Services reach them", () => {
    expect(containerPort("grpc")).toBe(portOf(config.listen));
    expect(containerPort("http")).toBe(portOf(config.http.listen));
    expect(containerPort("metrics")).toBe(portOf(config.metrics.listen));
    const services = all.filter((m) => m.kind === "Service");
    expect(services.map((s) => s.metadata.name).sort()).toEqual(["wxtoken", "wxtoken-headless"]);
    for (const service of services) {
      expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
      for (const port of service.spec.ports as Manifest[]) expect(container.ports.map((p: Manifest) => p.name)).toContain(port.targetPort);
    }
    expect(one("Service", "wxtoken-headless").spec.clusterIP).toBe("None");
  });

  it("Prometheus scrapes the metrics listener", () => {
    const annotations = deployment.spec.template.metadata.annotations as Record<string, string>;
    expect(annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": String(portOf(config.metrics.listen)), "prometheus.io/path": "/metrics" });
  });

  it("a PodDisruptionBudget keeps 2 of the Deployment's pods", () => {
    const pdb = one("PodDisruptionBudget");
    expect(pdb.spec.minAvailable).toBe(2);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels as Record<string, string>)) expect(labels[k]).toBe(v);
    expect(deployment.spec.selector.matchLabels).toEqual(pdb.spec.selector.matchLabels);
  });

  it("runs as the image's non-root user with a read-only root file system and no privileges", () => {
    const user = dockerfile("deploy/Dockerfile").filter((i) => i.keyword === "USER").at(-1)!.args;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(user.split(":")[0]), seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(pod.automountServiceAccountToken).toBe(false);
    // 0440 with fsGroup: the non-root user reads the Secret's files through its group.
    expect(volume((v) => v.secret !== undefined).secret.defaultMode).toBe(0o440);
    expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup);
  });

  it("pins the image to the package's version, never latest", () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    expect(container.image).toMatch(/^[^@]+:[^:/]+$/);
    expect(container.image.split(":").at(-1)).toBe(version);
  });

  it("gives the drain its time: the grace period covers preStop, shutdownGraceMs and the last refresh", () => {
    const pause = Number((container.lifecycle.preStop.exec.command as string[]).at(-1));
    const drain = config.shutdownGraceMs / 1000;
    // 2 s: a refresh in flight may land after the grace period (docs/operations.md#shutdown); 3 s more for the flush.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(pause + drain + 2 + 3);
  });

  it("sets resource requests and a memory limit", () => {
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toEqual(expect.any(String));
  });

  it("labels every object alike", () => {
    for (const m of all.filter((x) => x.kind !== "Kustomization")) expect(m.metadata.labels, join(m.file, m.kind)).toEqual({ "app.kubernetes.io/name": "wxtoken" });
  });
});
