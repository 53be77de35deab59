/**
 * Debian's grpcio for the Python tests: it lives under /usr/bin/python3, not
 * the python3 first on PATH. Without it those tests are skipped locally, but
 * fail in CI (CI=true), where `.ci/run` installs it.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

export const PYTHON = "/usr/bin/python3";

/** Whether this is CI, where a missing interpreter fails the test instead of skipping it. */
export const inCI = Boolean(process.env.CI) && !/^(0|false)$/i.test(process.env.CI ?? "");

/** Why /usr/bin/python3 cannot run grpc tests, or undefined when it can. */
export async function pythonGrpcMissing(): Promise<string | undefined> {
  try {
    await promisify(execFile)(PYTHON, ["-c", "import grpc, grpc_tools"], { timeout: 30_000 });
    return undefined;
  } catch (err) {
    return `${PYTHON} cannot import grpc and grpc_tools (apt-get install -y python3-grpcio python3-grpc-tools): ${(err as Error).message.split("\n")[0]}`;
  }
}
