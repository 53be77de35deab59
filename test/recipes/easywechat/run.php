<?php
/**
 * Runs examples/easywechat/WxTokenAccessToken.php with the EasyWeChat stand-in
 * beside this file, against a real wxtoken (HTTP/JSON API) and WeChat (the
 * fake one): the recipe's usage, WxTokenAccessToken::call() on getcallbackip.
 *
 * Environment: WXTOKEN_HTTP (http://host:port), WXTOKEN_APP_ID, WECHAT_API_BASE
 * (WeChat's base URL ending in /cgi-bin/). Prints one JSON line. Exit 0: the
 * call succeeded; 3: it failed with WeChat's errcode; anything else: 1.
 * Needs php-cli and php-curl (Debian).
 */
declare(strict_types=1);

require __DIR__ . '/standin.php';
require __DIR__ . '/../../../examples/easywechat/WxTokenAccessToken.php';

use App\WeChat\WxTokenAccessToken;
use EasyWeChat\OfficialAccount\Application;

$appId = getenv('WXTOKEN_APP_ID') ?: exit("set WXTOKEN_APP_ID\n");
$wechat = preg_replace('#/cgi-bin/?$#', '/', getenv('WECHAT_API_BASE') ?: exit("set WECHAT_API_BASE\n"));

$app = new Application(['app_id' => $appId, 'http' => ['base_uri' => $wechat]]);
$app->setAccessToken(new WxTokenAccessToken($appId, getenv('WXTOKEN_HTTP') ?: exit("set WXTOKEN_HTTP\n")));
$response = WxTokenAccessToken::call($app, 'GET', '/cgi-bin/getcallbackip');
$body = $response->toArray(false);
if ($response->isFailed()) {
    echo json_encode(['ok' => false, 'errcode' => (int) $body['errcode'], 'error' => "getcallbackip failed: errcode {$body['errcode']}, {$body['errmsg']}"]), "\n";
    exit(3);
}
echo json_encode(['ok' => true, 'ips' => count($body['ip_list'])]), "\n";
