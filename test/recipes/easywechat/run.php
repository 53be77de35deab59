<?php
/**
 * Runs examples/easywechat/WxTokenAccessToken.php with the EasyWeChat stand-in
 * beside this file, against a real wxtoken (HTTP/JSON API) and WeChat (the
 * fake one): the recipe's usage, WxTokenAccessToken::call() on getcallbackip.
 *
 * Environment: WXTOKEN_HTTP (http://host:port), WXTOKEN_APP_ID, WECHAT_API_BASE
 * (WeChat's base URL ending in /cgi-bin/); RECIPE_CALLERS=2: two callers share the
 * Application, as coroutines do under Swoole, each yielding to the other after
 * each WeChat request (PHP Fibers). Prints one JSON line. Exit 0: the
 * call succeeded; 3: it failed with WeChat's errcode; anything else: 1.
 * Needs php-cli and php-curl (Debian).
 */
declare(strict_types=1);

require __DIR__ . '/standin.php';
require __DIR__ . '/../../../examples/easywechat/WxTokenAccessToken.php';

use App\WeChat\WxTokenAccessToken;
use EasyWeChat\OfficialAccount\Application;
use Symfony\Component\HttpClient\Response\CurlResponse;
use Symfony\Contracts\HttpClient\HttpClientInterface;

/** Yields the running Fiber after each request: a coroutine's I/O wait, where another caller runs. */
final class YieldingHttpClient implements HttpClientInterface
{
    public function __construct(private HttpClientInterface $inner) {}

    public function request(string $method, string $url, array $options = []): CurlResponse
    {
        $response = $this->inner->request($method, $url, $options);
        if (Fiber::getCurrent() !== null) Fiber::suspend();
        return $response;
    }
}

$appId = getenv('WXTOKEN_APP_ID') ?: exit("set WXTOKEN_APP_ID\n");
$wechat = preg_replace('#/cgi-bin/?$#', '/', getenv('WECHAT_API_BASE') ?: exit("set WECHAT_API_BASE\n"));

$app = new Application(['app_id' => $appId, 'http' => ['base_uri' => $wechat]]);
$app->setAccessToken(new WxTokenAccessToken($appId, getenv('WXTOKEN_HTTP') ?: exit("set WXTOKEN_HTTP\n")));
$callers = getenv('RECIPE_CALLERS') === '2' ? 2 : 1;
if ($callers === 2) $app->setHttpClient(new YieldingHttpClient($app->getHttpClient()));
// Both callers' first getcallbackip carry the same token; one reports it after the other's report replaced it.
$fibers = [];
for ($i = 0; $i < $callers; $i++) {
    $fibers[$i] = new Fiber(fn () => WxTokenAccessToken::call($app, 'GET', '/cgi-bin/getcallbackip'));
    $fibers[$i]->start();
}
while (array_filter($fibers, fn (Fiber $f) => !$f->isTerminated())) {
    foreach ($fibers as $f) if (!$f->isTerminated()) $f->resume();
}
foreach ($fibers as $f) {
    $response = $f->getReturn();
    if ($response->isFailed()) break;
}
$body = $response->toArray(false);
if ($response->isFailed()) {
    echo json_encode(['ok' => false, 'errcode' => (int) $body['errcode'], 'error' => "getcallbackip failed: errcode {$body['errcode']}, {$body['errmsg']}"]), "\n";
    exit(3);
}
echo json_encode(['ok' => true, 'ips' => count($body['ip_list']), 'callers' => $callers]), "\n";
