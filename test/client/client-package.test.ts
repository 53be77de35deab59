/**
 * @wxtoken/client as a business service gets it: both packages packed with
 * `npm pack` from a clean checkout, the client's tarball installed alone into
 * an empty project, then imported (ESM) and required (CommonJS) there, each
 * reading a token from a running server.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { copyCheckout } from "../support/build.js";
import { APP, Harness, tempDir } from "../support/harness.js";

const run = promisify(execFile);
const SERVER_DEPENDENCIES = ["ioredis", "pino", "prom-client", "zod", "better-sqlite3"];

interface Packed {
  client: string;
  server: string;
  /** The empty project the client's tarball went into. */
  consumer: string;
}

/** `npm pack` (prepack builds) in the checkout or one of its workspaces; returns the tarball's path. */
async function pack(dir: string, destination: string): Promise<string> {
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", destination, "--loglevel=error"], { cwd: dir });
  // prepack's own output (the build) comes before the JSON on stdout.
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as { filename: string }[];
  return join(destination, packed!.filename);
}

/** Every file under dir, links not followed. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

let packed: Packed;

beforeAll(async () => {
  // A checkout without dist/ or node_modules: what each tarball holds can only come from its prepack.
  const checkout = tempDir();
  copyCheckout(checkout);
  const out = tempDir();
  const server = await pack(checkout, out);
  const client = await pack(join(checkout, "packages/client"), out);

  const consumer = tempDir();
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }));
  // The npm cache is warm after npm ci; the registry is asked only for what it lacks.
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", client], { cwd: consumer });
  packed = { client, server, consumer };
}, 180_000);

describe("the @wxtoken/client package", () => {
  it("installs alone with only what it runs: no server dependency, at most 20 MB of node_modules", () => {
    const modules = join(packed.consumer, "node_modules");
    const files = walk(modules);
    const packages = new Set(files.map((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)\/package\.json$/.exec(f)?.[1]).filter(Boolean));
    expect([...packages]).toEqual(expect.arrayContaining(["@wxtoken/client", "@grpc/grpc-js", "undici", "@bufbuild/protobuf"]));
    expect(SERVER_DEPENDENCIES.filter((name) => packages.has(name))).toEqual([]);
    expect(packages.has("wxtoken")).toBe(false);
    const bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
    expect(bytes).toBeLessThanOrEqual(20 * 1024 * 1024);
  });

  it("carries its README (install, usage, kinds) and its MIT LICENSE, as does the server package", async () => {
    const listed = async (tarball: string) => (await run("tar", ["-tzf", tarball])).stdout.split("\n");
    expect(await listed(packed.client)).toEqual(expect.arrayContaining(["package/README.md", "package/LICENSE"]));
    expect(await listed(packed.server)).toEqual(expect.arrayContaining(["package/README.md", "package/LICENSE"]));
    const pkg = join(packed.consumer, "node_modules/@wxtoken/client");
    const readme = readFileSync(join(pkg, "README.md"), "utf8");
    for (const name of ["npm pack -w @wxtoken/client", "TokenSource", "TokenClient", "HttpTokenClient", "withToken", "jsapi_ticket", "docs/clients.md"]) expect(readme).toContain(name);
    expect(readFileSync(join(pkg, "LICENSE"), "utf8")).toMatch(/^MIT License/);
  });

  it("ships ESM and CommonJS with types, and no source map pointing at sources it does not ship", () => {
    const pkg = join(packed.consumer, "node_modules/@wxtoken/client");
    const files = walk(pkg).map((f) => f.slice(pkg.length + 1));
    expect(files).toEqual(
      expect.arrayContaining(["package.json", "dist/esm/src/index.js", "dist/esm/src/index.d.ts", "dist/cjs/src/index.js", "dist/cjs/src/index.d.ts", "dist/cjs/package.json"]),
    );
    expect(files.filter((f) => f.endsWith(".map") || f.endsWith(".ts") && !f.endsWith(".d.ts") || f.startsWith("src/"))).toEqual([]);
    expect(files.filter((f) => f.endsWith(".js")).filter((f) => readFileSync(join(pkg, f), "utf8").includes("sourceMappingURL"))).toEqual([]);
  });

  it("is imported (ESM) and required (CommonJS), and both TokenSources read the token a running server serves", async () => {
    // The server runs on a fake clock started at real time: the consumer's TokenSource checks expiry against real time.
    const h = await Harness.start({ clock: new FakeClock(Date.now()) });
    try {
      const served = (await h.getToken(APP)).token!.accessToken;
      const body = (load: string) => `${load}
        const source = await TokenSource.create({ address: process.argv[2], appId: process.argv[3] });
        console.log(JSON.stringify({ token: source.token(), version: source.current().version }));
        source.close();`;
      writeFileSync(join(packed.consumer, "esm.mjs"), body(`import { TokenSource } from "@wxtoken/client";`));
      writeFileSync(join(packed.consumer, "cjs.cjs"), `(async () => {${body(`const { TokenSource } = require("@wxtoken/client");`)}})();`);
      for (const script of ["esm.mjs", "cjs.cjs"]) {
        const { stdout } = await run(process.execPath, [script, `127.0.0.1:${h.port}`, APP], { cwd: packed.consumer, timeout: 15_000 });
        expect({ script, ...JSON.parse(stdout) }).toEqual({ script, token: served, version: 1 });
      }
    } finally {
      await h.stop();
    }
  }, 30_000);

  it("is what the server package depends on, and the server package tells CommonJS users to take it", async () => {
    const server = JSON.parse((await run("tar", ["-xOzf", packed.server, "package/package.json"])).stdout) as {
      dependencies: Record<string, string>;
      exports: Record<string, Record<string, string>>;
    };
    const client = JSON.parse((await run("tar", ["-xOzf", packed.client, "package/package.json"])).stdout) as { version: string };
    expect(server.dependencies["@wxtoken/client"]).toBe(client.version);
    expect(Object.keys(server.dependencies)).not.toContain("@grpc/proto-loader");
    expect(server.exports["."]).toMatchObject({ import: "./dist/src/index.js", require: "./esm-only.cjs" });
    const stub = (await run("tar", ["-xOzf", packed.server, "package/esm-only.cjs"])).stdout;
    writeFileSync(join(packed.consumer, "esm-only.cjs"), stub);
    const failed = await run(process.execPath, [join(packed.consumer, "esm-only.cjs")]).then(
      () => expect.fail("require of the server package should fail"),
      (err: { stderr: string }) => err.stderr,
    );
    expect(failed).toContain('require("@wxtoken/client")');
  });
});
