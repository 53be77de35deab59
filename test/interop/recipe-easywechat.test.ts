/**
 * examples/easywechat/WxTokenAccessToken.php, run in its own process against a
 * real wxtoken over the HTTP/JSON API, plugged into a stand-in of EasyWeChat
 * 6.19.1 (test/recipes/easywechat/standin.php: the AccessToken contracts, the
 * client that puts toQuery() on every request, the Response; Packagist is not
 * reachable here). Needs Debian's php-cli and php-curl.
 */
import { fileURLToPath } from "node:url";
import { describeRecipe, probe, recipeEnv, runRecipe } from "../support/recipes.js";

const RUNNER = fileURLToPath(new URL("../recipes/easywechat/run.php", import.meta.url));

describeRecipe("the EasyWeChat recipe", {
  missing: await probe("php", ["-r", 'exit(function_exists("curl_init") ? 0 : 1);'], "apt-get install -y php-cli php-curl"),
  run: (h, env) => runRecipe("php", [RUNNER], { ...recipeEnv(h), ...env }),
  concurrentCallers: true,
});
