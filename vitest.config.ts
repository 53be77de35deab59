import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // The client package from its source (as tsconfig.test.json's paths), so
  // tests need no build of it and see one copy of each module.
  resolve: { alias: { "@wxtoken/client": fileURLToPath(new URL("packages/client/src/index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts"],
    // Compiles the package once for the CLI and package tests.
    globalSetup: ["test/support/build.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Each file starts its own servers on free loopback ports; two workers
    // match the two cores CI has.
    maxWorkers: 2,
  },
});
