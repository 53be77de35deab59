<?php
/**
 * EasyWeChat takes its access_token from wxtoken, over wxtoken's HTTP/JSON API.
 *
 * Written against w7corp/easywechat 6.19.1 (PHP >= 8.0.2). The extension point
 * is the token object of the Application:
 *   EasyWeChat\Kernel\Contracts\AccessToken             getToken(): string, toQuery(): array
 *   EasyWeChat\Kernel\Contracts\RefreshableAccessToken  ... plus refresh(): string   (since 6.1.0)
 * installed with EasyWeChat\OfficialAccount\Application::setAccessToken(). The
 * default one (EasyWeChat\OfficialAccount\AccessToken) calls WeChat's token API
 * with the appsecret; this one never does, so the app's config needs no 'secret'.
 *
 * The HTTP API (not gRPC; PHP rarely has the grpc extension):
 *   GET  /v1/apps/{app_id}/token          -> {"token": {"appId", "accessToken", "version", "expiresAt"}} (proto3 JSON, as in docs/http-api.md)
 *   POST /v1/apps/{app_id}/token:refresh  {"staleToken": "..."} -> the same shape
 * The POST is the passive refresh (ForceRefresh in proto/): compare-and-refresh,
 * so a burst of 40001s from many PHP workers makes one upstream call.
 *
 * Passive refresh: EasyWeChat's own hook, AccessTokenExpiredRetryStrategy
 * (config 'http.retry'), matches only 42001 "access_token expired" and calls
 * refresh() only on a token it was handed with withAccessToken(), which
 * Application::getRetryStrategy() in 6.19.1 does not do. So report
 * 40001/40014/42001 yourself, as call() below does.
 */

declare(strict_types=1);

namespace App\WeChat;

use EasyWeChat\Kernel\Contracts\RefreshableAccessToken;
use EasyWeChat\Kernel\HttpClient\Response;
use EasyWeChat\OfficialAccount\Application;
use Symfony\Component\HttpClient\HttpClient;            // already required by EasyWeChat
use Symfony\Contracts\HttpClient\HttpClientInterface;

final class WxTokenAccessToken implements RefreshableAccessToken
{
    /** WeChat's answers for an access_token it no longer accepts. */
    public const STALE_ERRCODES = [40001, 40014, 42001];

    private ?string $token = null;
    private int $reuseUntil = 0; // unix seconds

    public function __construct(
        private string $appId,
        private string $baseUrl = 'http://wxtoken:8080',   // wxtoken's HTTP listener
        private ?string $apiKey = null,                     // when the server requires API keys
        private ?HttpClientInterface $http = null,
    ) {
        $this->http ??= HttpClient::create(['timeout' => 5]);
    }

    public function getToken(): string
    {
        // wxtoken refreshes ahead of expiry and WeChat accepts the previous token
        // for about five minutes after a rotation: reusing an answer for 60 s is safe.
        if ($this->token === null || time() >= $this->reuseUntil) {
            $this->remember($this->api('GET', "/v1/apps/{$this->appId}/token"));
        }
        return $this->token;
    }

    /** @return array<string,string> */
    public function toQuery(): array
    {
        return ['access_token' => $this->getToken()];
    }

    /**
     * The interface's refresh(), which is told no token: reports the one last
     * handed out. call() reports the refused request's own token instead
     * (refreshStale()): after another caller's refresh the two differ, and
     * reporting the new, good one would make wxtoken refresh it again.
     */
    public function refresh(): string
    {
        if ($this->token === null) {
            return $this->getToken(); // nothing handed out yet, so nothing to report
        }
        return $this->refreshStale($this->token);
    }

    /**
     * The passive refresh: report the token WeChat rejected, get the one to use
     * now. Compare-and-refresh on that exact token: if wxtoken already replaced
     * it, it answers the new one and makes no upstream call.
     */
    public function refreshStale(string $refused): string
    {
        $this->remember($this->api('POST', "/v1/apps/{$this->appId}/token:refresh", ['staleToken' => $refused]));
        return $this->token;
    }

    /**
     * Any WeChat call through the app's client, retried once after a stale-token
     * answer and never more: a second refusal comes back to the caller as the
     * Response (isFailed(), errcode in toArray(false)), it is not retried.
     * The token reported is the one the refused request carried, read from its
     * URL (access_token=, which toQuery() put there).
     */
    public static function call(Application $app, string $method, string $uri, array $options = []): Response
    {
        $response = $app->getClient()->request($method, $uri, $options);
        $errcode = (int) ($response->toArray(false)['errcode'] ?? 0);
        $token = $app->getAccessToken();
        if (in_array($errcode, self::STALE_ERRCODES, true) && $token instanceof RefreshableAccessToken) {
            $refused = self::carriedToken($response);
            $token instanceof self && $refused !== null ? $token->refreshStale($refused) : $token->refresh();
            $response = $app->getClient()->request($method, $uri, $options);
        }
        return $response;
    }

    /** The access_token in the query of the request that got this response. */
    private static function carriedToken(Response $response): ?string
    {
        parse_str((string) parse_url((string) $response->getInfo('url'), PHP_URL_QUERY), $query);
        return is_string($query['access_token'] ?? null) ? $query['access_token'] : null;
    }

    private function api(string $method, string $path, ?array $json = null): array
    {
        $options = ['headers' => $this->apiKey ? ['Authorization' => "Bearer {$this->apiKey}"] : []];
        if ($json !== null) {
            $options['json'] = $json;
        }
        // Throws on a non-2xx answer: wxtoken then has no valid token to give.
        return $this->http->request($method, rtrim($this->baseUrl, '/') . $path, $options)->toArray();
    }

    private function remember(array $body): void
    {
        $this->token = (string) $body['token']['accessToken'];
        // expiresAt: an RFC 3339 string (the proto3 JSON form of a Timestamp).
        $e = $body['token']['expiresAt'];
        $expiresAt = is_numeric($e) ? (int) $e : (int) strtotime((string) $e);
        $this->reuseUntil = min(time() + 60, $expiresAt - 30);
    }
}

// Usage: set the token before the first getClient(), which keeps the token object it was built with.
//
//   $app = new Application(['app_id' => 'wx1234567890abcdef', 'token' => '...', 'aes_key' => '...']);
//   $app->setAccessToken(new WxTokenAccessToken('wx1234567890abcdef', 'http://wxtoken:8080'));
//   $menu = WxTokenAccessToken::call($app, 'GET', '/cgi-bin/get_current_selfmenu_info')->toArray(false);
