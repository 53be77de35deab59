/**
 * deploy/Dockerfile and deploy/systemd: the Dockerfile read as instructions
 * (no Docker daemon is needed: what it checks is in the file), the unit
 * verified by systemd-analyze itself, and the configs they and docs/deploy.md
 * serve checked by the real `wxtoken check-config`.
 */
import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useCli } from "../support/cli.js";
import { checkConfig, dockerfile, manifests, portOf, unitFile, type Instruction, type Manifest } from "../support/deploy.js";
import { tempDir } from "../support/harness.js";

const run = promisify(execFile);
const fixture = useCli();

describe("deploy/Dockerfile", () => {
  const instructions = dockerfile("deploy/Dockerfile");
  const stages = [...new Set(instructions.map((i) => i.stage))];
  const final = stages.at(-1)!;
  const inStage = (stage: string, keyword: string): Instruction[] => instructions.filter((i) => i.stage === stage && i.keyword === keyword);
  const execForm = (i: Instruction): string[] => JSON.parse(i.args) as string[];
  /** The stage a COPY --from names, and what it copies. */
  const copies = inStage(final, "COPY").map((i) => ({ from: /--from=(\S+)/.exec(i.args)?.[1], paths: i.args.replace(/--\S+/g, "").trim().split(/\s+/) }));

  it("builds in stages and runs from a slim one", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(inStage(final, "FROM")[0]!.args).toMatch(/-slim\b/);
    expect(instructions.some((i) => i.keyword === "ADD")).toBe(false);
  });

  it("takes nothing from the build context into the final stage, so no config or secret can reach the image", () => {
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) expect(copy.from, copy.paths.join(" ")).toBeDefined();
    for (const i of instructions.filter((x) => x.keyword === "COPY")) expect(i.args).not.toMatch(/wxtoken\.json|secret|credential|\.env\b|\.wxtoken|\.db\b/i);
    for (const i of instructions.filter((x) => x.keyword === "ENV" || x.keyword === "ARG")) expect(i.args).not.toMatch(/SECRET|PASSWORD|API_KEY/i);
  });

  it("copies node_modules from a stage that installed production dependencies only, and dist from the one that built", () => {
    const modules = copies.find((c) => c.paths.some((p) => p.includes("node_modules")))!;
    expect(inStage(modules.from!, "RUN").map((i) => i.args).join("\n")).toMatch(/npm ci [^\n]*--omit=dev/);
    const dist = copies.find((c) => c.paths.some((p) => p.includes("/dist/src")))!;
    expect(inStage(dist.from!, "RUN").map((i) => i.args).join("\n")).toMatch(/npm run build/);
    expect(inStage(dist.from!, "RUN").map((i) => i.args).join("\n")).not.toMatch(/--omit=dev/);
    // Each workspace (the client package): its manifest where npm ci runs, its build beside the link npm ci made to it.
    const { workspaces = [] } = JSON.parse(readFileSync("package.json", "utf8")) as { workspaces?: string[] };
    for (const workspace of workspaces) {
      for (const stage of [modules.from!, dist.from!]) expect(inStage(stage, "COPY").map((i) => i.args).join("\n")).toContain(`${workspace}/package.json`);
      expect(copies.flatMap((c) => c.paths)).toEqual(expect.arrayContaining([expect.stringContaining(`${workspace}/dist`), expect.stringContaining(`${workspace}/package.json`)]));
    }
  });

  it("runs as a numeric non-root user", () => {
    const user = inStage(final, "USER").at(-1)!.args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(":")[0])).toBeGreaterThan(0);
  });

  it("starts serve under an init, in exec form so SIGTERM and SIGHUP reach the server", () => {
    const entrypoint = execForm(inStage(final, "ENTRYPOINT")[0]!);
    expect(entrypoint.slice(0, 2)).toEqual(["/usr/bin/tini", "--"]);
    expect(inStage(final, "RUN").map((i) => i.args).join("\n")).toMatch(/apt-get install [^\n]*\btini\b/);
    const cmd = execForm(inStage(final, "CMD")[0]!);
    expect(cmd).toEqual(["serve", "--config", "/etc/wxtoken/wxtoken.json"]);
    // The Kubernetes manifests serve the same path.
    const deployment = manifests("deploy/k8s").find((m) => m.kind === "Deployment")!;
    expect(deployment.spec.template.spec.containers[0].args).toEqual(cmd);
  });

  it("exposes the ports the Kubernetes config listens on, and its health check asks a probe without the store", () => {
    const exposed = inStage(final, "EXPOSE").flatMap((i) => i.args.split(/\s+/).map(Number));
    const configMap = manifests("deploy/k8s").find((m) => m.kind === "ConfigMap")!;
    const config = JSON.parse(configMap.data["wxtoken.json"]) as Manifest;
    expect(exposed.sort()).toEqual([config.listen, config.http.listen, config.metrics.listen].map(portOf).sort());
    const url = /WXTOKEN_HEALTHCHECK_URL="([^"]+)"/.exec(inStage(final, "ENV").map((i) => i.args).join("\n"))![1]!;
    expect(url).toBe(`http://127.0.0.1:${portOf(config.metrics.listen)}/readyz?exclude=store`);
    expect(inStage(final, "HEALTHCHECK")[0]!.args).toContain("process.env.WXTOKEN_HEALTHCHECK_URL");
  });

  it(".dockerignore keeps local state, configs and secrets out of the context", () => {
    const ignored = readFileSync(".dockerignore", "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
    for (const entry of [".git", "**/node_modules", "**/dist", "**/.wxtoken", "**/*.db", "**/*.env", "**/wxtoken.json"]) expect(ignored).toContain(entry);
  });
});

/** systemd-analyze, or undefined where it is missing (outside CI only: CI installs it). */
async function systemdAnalyze(): Promise<string | undefined> {
  try {
    await run("systemd-analyze", ["--version"]);
    return "systemd-analyze";
  } catch {
    if (process.env.CI) throw new Error("systemd-analyze is missing: .ci/run installs Debian's systemd package");
    return undefined;
  }
}

/**
 * `systemd-analyze verify` on a copy of the unit whose ExecStart binary is a
 * stub (verify requires it to exist); what it printed about the unit.
 */
async function verify(tool: string, unitText: string): Promise<string[]> {
  const dir = tempDir();
  const stub = join(dir, "wxtoken");
  writeFileSync(stub, "#!/bin/sh\n");
  chmodSync(stub, 0o755);
  const unit = join(dir, "wxtoken.service");
  writeFileSync(unit, unitText.replace(/^ExecStart=\S+/m, `ExecStart=${stub}`));
  // In a container without systemd running: no manual pages, no generators.
  const result = await run(tool, ["verify", "--man=no", "--generators=no", unit]).catch((err: { stdout: string; stderr: string }) => err);
  return `${result.stdout}${result.stderr}`.split("\n").filter((line) => line.includes("wxtoken.service"));
}

describe("deploy/systemd", () => {
  const text = readFileSync("deploy/systemd/wxtoken.service", "utf8");
  const unit = unitFile(text);
  const service = unit.get("Service")!;
  const get = (key: string): string[] => service.get(key) ?? [];
  const config = JSON.parse(readFileSync("deploy/systemd/wxtoken.json", "utf8")) as Manifest;

  it("systemd-analyze verify finds nothing to say about the unit, and does about a broken copy", async () => {
    const tool = await systemdAnalyze();
    if (tool === undefined) return;
    expect(await verify(tool, text)).toEqual([]);
    const broken = await verify(tool, text.replace("ProtectSystem=strict", "ProtectSystem=stricter\nRestartPreventExitStatus=seventy-eight"));
    expect(broken.join("\n")).toMatch(/ProtectSystem|protect system/);
    expect(broken.join("\n")).toMatch(/RestartPreventExitStatus|seventy-eight/);
  });

  it("is well confined (systemd-analyze security: exposure at most 2.5 of 10)", async () => {
    const tool = await systemdAnalyze();
    if (tool === undefined) return;
    const dir = tempDir();
    copyFileSync("deploy/systemd/wxtoken.service", join(dir, "wxtoken.service"));
    await expect(run(tool, ["security", "--offline=yes", "--threshold=25", join(dir, "wxtoken.service")])).resolves.toBeDefined();
  });

  it("serves the config with serve --config; reload is SIGHUP; a config error (exit 78) is not restarted", async () => {
    expect(get("ExecStart")).toEqual([`/usr/local/bin/wxtoken serve --config /etc/wxtoken/wxtoken.json --pidfile /run/${get("RuntimeDirectory")[0]}/wxtoken.pid`]);
    expect(get("ExecReload")).toEqual(["/bin/kill -HUP $MAINPID"]);
    expect(get("Restart")).toEqual(["on-failure"]);
    expect(get("RestartPreventExitStatus")).toEqual(["78"]);
    // 78 is what the CLI exits with for a config error.
    const bad = join(tempDir(), "wxtoken.json");
    writeFileSync(bad, JSON.stringify({ ...config, refrsh: {} }));
    expect((await fixture.cli.run(["check-config", bad])).code).toBe(78);
  });

  it("check-config as docs/deploy.md runs it for the unit: the config alone fails on the credential path; the documented copy, reading the credentials' source directory, passes", async () => {
    const doc = readFileSync("docs/deploy.md", "utf8");
    const sed = /^ *(sed 's\|\/run\/credentials\/wxtoken\.service\/\|.*)$/m.exec(doc)?.[1];
    const check = /^ *wxtoken (check-config \/tmp\/\S+)$/m.exec(doc)?.[1];
    expect({ sed, check }).toEqual({ sed: expect.any(String), check: expect.any(String) });
    expect(doc).toContain("systemd-analyze verify /etc/systemd/system/wxtoken.service");
    // /etc and /tmp of the doc's lines under a temp root; the credential in its source directory only.
    const root = tempDir();
    const at = (line: string) => line.replace(/(?<=[ >])\/tmp\//g, `${root}/tmp/`).replace(/(?<=[ |])\/etc\/wxtoken\//g, `${root}/etc/wxtoken/`);
    for (const d of ["etc/wxtoken/credentials", "tmp"]) mkdirSync(join(root, d), { recursive: true });
    copyFileSync("deploy/systemd/wxtoken.json", join(root, "etc/wxtoken/wxtoken.json"));
    writeFileSync(join(root, "etc/wxtoken/credentials/wx-main"), "deploy-doc-secret\n", { mode: 0o600 });
    const alone = await fixture.cli.run(["check-config", join(root, "etc/wxtoken/wxtoken.json")]);
    expect(alone.code).toBe(78);
    expect(alone.stderr).toContain("/run/credentials/wxtoken.service/wx-main");
    await run("sh", ["-c", at(sed!)]);
    const checked = await fixture.cli.run(at(check!).split(" "));
    expect({ code: checked.code, stderr: checked.stderr }).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(checked.stdout)).toMatchObject({ valid: true, apps: [{ appId: config.apps[0]!.appId }] });
    expect(checked.stdout).not.toContain("deploy-doc-secret");
  });

  it("waits for the drain longer than shutdownGraceMs", () => {
    expect(get("KillSignal")).toEqual(["SIGTERM"]);
    expect(Number(/^(\d+)s$/.exec(get("TimeoutStopSec")[0]!)![1])).toBeGreaterThanOrEqual(config.shutdownGraceMs / 1000 + 10);
  });

  it("runs as a user of its own, confined, with the store in its state directory", () => {
    expect(get("DynamicUser")).toEqual(["yes"]);
    for (const [key, value] of [["NoNewPrivileges", "yes"], ["ProtectSystem", "strict"], ["ProtectHome", "yes"], ["PrivateTmp", "yes"], ["CapabilityBoundingSet", ""], ["UMask", "0077"]]) {
      expect(get(key!), key).toEqual([value]);
    }
    expect(service.has("MemoryDenyWriteExecute")).toBe(false);
    expect(config.store).toEqual({ type: "sqlite", path: `/var/lib/${get("StateDirectory")[0]}/wxtoken.db` });
    expect(get("StateDirectoryMode")).toEqual(["0700"]);
  });

  it("its config passes check-config, each secretFile being one of the unit's credentials", async () => {
    const credentials = new Map(get("LoadCredential").map((c) => c.split(":") as [string, string]));
    const summary = await checkConfig(fixture.cli, config, (path) => {
      expect(dirname(path)).toBe("/run/credentials/wxtoken.service");
      expect([...credentials.keys()]).toContain(path.slice(dirname(path).length + 1));
    });
    expect(summary).toMatchObject({ valid: true, store: { type: "sqlite", path: "/var/lib/wxtoken/wxtoken.db" } });
    for (const source of credentials.values()) expect(source).toMatch(/^\/etc\/wxtoken\/credentials\//);
    expect(get("EnvironmentFile")).toEqual(["-/etc/wxtoken/wxtoken.env"]);
  });
});

describe("docs/deploy.md", () => {
  it("every JSON config in it passes check-config", async () => {
    const blocks = [...readFileSync("docs/deploy.md", "utf8").matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as Manifest);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) await checkConfig(fixture.cli, block, () => {});
  });
});
