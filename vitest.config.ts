import { defineConfig } from "vitest/config";

export default defineConfig({
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
