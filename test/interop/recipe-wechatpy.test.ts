/**
 * examples/wechatpy/wxtoken_client.py, run in its own process against a real
 * wxtoken over gRPC, plugged into a stand-in of wechatpy 1.8.18's client
 * (test/recipes/wechatpy/wechatpy/: the access_token property and the
 * unbounded 40001 retry of wechatpy/client/base.py, since PyPI is not
 * reachable here). With 120-second tokens the recipe once recursed until
 * RecursionError; now it reports the refused token once and retries once.
 * Needs Debian's python3-grpcio, python3-grpc-tools and python3-requests.
 */
import { fileURLToPath } from "node:url";
import { PYTHON } from "../support/python.js";
import { describeRecipe, probe, recipeEnv, runRecipe } from "../support/recipes.js";

const RUNNER = fileURLToPath(new URL("../recipes/wechatpy/run.py", import.meta.url));

describeRecipe("the wechatpy recipe", {
  missing: await probe(PYTHON, ["-c", "import grpc, grpc_tools, requests"], "apt-get install -y python3-grpcio python3-grpc-tools python3-requests"),
  run: (h) => runRecipe(PYTHON, [RUNNER], { ...recipeEnv(h), PYTHONDONTWRITEBYTECODE: "1" }),
});
