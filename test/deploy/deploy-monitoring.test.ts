/**
 * The monitoring files in deploy/: the Prometheus alert rules pass `promtool
 * check rules` and their unit tests (`promtool test rules`, Debian's
 * prometheus package; required in CI), the Grafana dashboard is importable
 * (a datasource variable, no hard-wired datasource), and every wxtoken_*
 * metric the rules and the dashboard name is served by a live GET /metrics.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { Harness } from "../support/harness.js";

const run = promisify(execFile);
const RULES = "deploy/prometheus/wxtoken-alerts.yml";
const RULE_TESTS = "deploy/prometheus/tests/wxtoken-alerts.test.yml";
const DASHBOARD = "deploy/grafana/wxtoken-dashboard.json";

const inCI = Boolean(process.env.CI) && !/^(0|false)$/i.test(process.env.CI ?? "");

async function promtoolMissing(): Promise<boolean> {
  try {
    await run("promtool", ["--version"], { timeout: 10_000 });
    return false;
  } catch {
    return true;
  }
}
const missing = await promtoolMissing();
if (missing && !inCI) console.warn("skipping promtool checks: promtool is missing (Debian's prometheus package)");

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  annotations?: Record<string, string>;
}
interface Panel {
  type: string;
  id: number;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; datasource?: { uid: string } }[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}

const rules = (): Rule[] => (parseYaml(readFileSync(RULES, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;

/**
 * The wxtoken_* names a PromQL expression (or a text naming metrics) uses:
 * string literals are dropped first, so a label value such as
 * job="wxtoken_x" is not taken for a metric.
 */
export function metricNames(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  return [...code.matchAll(/(?<![A-Za-z0-9_:])wxtoken_[a-z0-9_]+/g)].map((m) => m[0]);
}

/** What the rules and the dashboard name: expressions, variable queries, and the metrics their texts mention. */
function namedMetrics(): Map<string, string> {
  const named = new Map<string, string>();
  const note = (text: string, where: string) => {
    for (const name of metricNames(text)) if (!named.has(name)) named.set(name, where);
  };
  for (const r of rules()) {
    note(r.expr, `rule ${r.alert ?? r.record}`);
    // Runbooks point at metrics by name, in prose (no string literals to drop there).
    for (const text of Object.values(r.annotations ?? {})) for (const m of text.matchAll(/wxtoken_[a-z0-9_]+/g)) if (!named.has(m[0])) named.set(m[0], `annotation of ${r.alert}`);
  }
  const d = dashboard();
  for (const p of d.panels) for (const t of p.targets ?? []) note(t.expr, `panel "${p.title}"`);
  for (const v of d.templating.list) if (v.type === "query") note(String(v.definition ?? JSON.stringify(v.query)), `variable ${v.name}`);
  return named;
}

describe("metric names in PromQL", () => {
  it("are found outside string literals, with histogram suffixes kept for the caller to strip", () => {
    expect(metricNames('sum by (le) (rate(wxtoken_rpc_duration_seconds_bucket{job="wxtoken_fake",method="GetToken"}[5m]))')).toEqual(["wxtoken_rpc_duration_seconds_bucket"]);
    expect(metricNames("wxtoken_a / wxtoken_b_total > 0.8 and on() x:wxtoken_c")).toEqual(["wxtoken_a", "wxtoken_b_total"]);
    expect(metricNames("label_values(wxtoken_build_info{job=~\"$job\"}, instance)")).toEqual(["wxtoken_build_info"]);
  });
});

describe.skipIf(missing && !inCI)("the alert rules, by promtool", () => {
  it("pass promtool check rules", async () => {
    if (missing) throw new Error("promtool is missing: .ci/run installs Debian's prometheus package");
    const { stdout } = await run("promtool", ["check", "rules", RULES], { timeout: 60_000 });
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("pass promtool check rules as the docs' glob deploy/prometheus/*.yml names them: no unit-test file among them", async () => {
    if (missing) throw new Error("promtool is missing: .ci/run installs Debian's prometheus package");
    const globbed = readdirSync("deploy/prometheus").filter((f) => f.endsWith(".yml")).map((f) => `deploy/prometheus/${f}`);
    const { stdout } = await run("promtool", ["check", "rules", ...globbed], { timeout: 60_000 });
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("pass their unit tests (promtool test rules)", async () => {
    if (missing) throw new Error("promtool is missing: .ci/run installs Debian's prometheus package");
    const { stdout } = await run("promtool", ["test", "rules", RULE_TESTS], { timeout: 60_000 });
    expect(stdout).toContain("SUCCESS");
  });

  it("each alert has a severity, a summary, a description and a runbook, and a unit test", () => {
    const tested = readFileSync(RULE_TESTS, "utf8");
    for (const r of rules()) {
      expect(r.alert, r.expr).toMatch(/^WxToken[A-Za-z]+$/);
      expect(Object.keys(r.annotations ?? {}).sort(), r.alert).toEqual(["description", "runbook", "summary"]);
      expect(tested, `${r.alert} has no unit test`).toContain(`alertname: ${r.alert}\n`);
    }
  });
});

describe("the Grafana dashboard", () => {
  it("is importable: a datasource variable, used by every panel and query; unique ids; inside 24 columns", () => {
    const d = dashboard();
    expect(d.uid).toBe("wxtoken");
    expect(d.templating.list.find((v) => v.name === "datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of d.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === "row") continue;
      expect(p.datasource?.uid, p.title).toBe("${datasource}");
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.datasource?.uid, p.title).toBe("${datasource}");
    }
  });
});

describe("every metric the rules and the dashboard name", () => {
  let h: Harness | undefined;
  let families: Map<string, string>;
  beforeAll(async () => {
    // HTTP and metrics listeners on: every family registers and prints its HELP and TYPE, samples or not.
    h = await Harness.start({ config: { http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" } } });
    const text = await (await fetch(`http://127.0.0.1:${h.server.metricsPort}/metrics`)).text();
    families = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  });
  afterAll(() => h?.stop());

  it("is served by a live GET /metrics", () => {
    const named = namedMetrics();
    // The files name the families they chart and alert on, not one or two.
    expect(named.size).toBeGreaterThan(25);
    const absent: string[] = [];
    for (const [name, where] of named) {
      const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
      const served = families.has(name) || (base !== undefined && ["histogram", "summary"].includes(families.get(base) ?? ""));
      if (!served) absent.push(`${name} (${where})`);
    }
    expect(absent).toEqual([]);
  });
});
