<?php
/**
 * A stand-in for w7corp/easywechat 6.19.1 and the few Symfony HttpClient
 * pieces it exposes, which cannot be installed here (no Packagist): just what
 * examples/easywechat/WxTokenAccessToken.php uses, over php-curl.
 *
 * Behaviour copied from easywechat 6.19.1 (github.com/w7corp/easywechat):
 *   src/Kernel/Contracts/AccessToken.php, RefreshableAccessToken.php   the interfaces
 *   src/Kernel/HttpClient/AccessTokenAwareClient.php::request()       merges toQuery() into the query on every request
 *   src/Kernel/Traits/InteractWithClient.php::getClient()              builds the client once, with the token object of that moment
 *   src/OfficialAccount/Application.php::createClient()               failureJudge: errcode != 0; no retry unless http.retry
 *                                                                      (off by default, and it matches 42001 only)
 *   src/Kernel/HttpClient/Response.php                                 toArray(throw) / isFailed(): a 200 with an errcode does not throw;
 *                                                                      getInfo() is Symfony's ('url': the URL requested, its query too)
 *   src/Kernel/Traits/InteractWithHttpClient.php                       getHttpClient() / setHttpClient(), the client createClient() wraps
 * and from symfony/http-client: toArray(true) throws on an HTTP status >= 300.
 */
declare(strict_types=1);

namespace Symfony\Contracts\HttpClient {
    interface HttpClientInterface
    {
        public function request(string $method, string $url, array $options = []): \Symfony\Component\HttpClient\Response\CurlResponse;
    }
}

namespace Symfony\Component\HttpClient\Response {
    final class CurlResponse
    {
        public function __construct(private int $status, private string $body, private string $url) {}

        public function getStatusCode(): int { return $this->status; }

        public function getInfo(?string $type = null): mixed { return $type === 'url' ? $this->url : null; }

        public function getContent(bool $throw = true): string
        {
            if ($throw && $this->status >= 300) {
                throw new \RuntimeException("HTTP {$this->status} returned for \"{$this->url}\".");
            }
            return $this->body;
        }

        public function toArray(bool $throw = true): array
        {
            $decoded = json_decode($this->getContent($throw), true);
            if (!is_array($decoded)) throw new \RuntimeException("JSON content expected from \"{$this->url}\".");
            return $decoded;
        }
    }
}

namespace Symfony\Component\HttpClient {
    use Symfony\Component\HttpClient\Response\CurlResponse;
    use Symfony\Contracts\HttpClient\HttpClientInterface;

    final class HttpClient implements HttpClientInterface
    {
        private function __construct(private array $defaults) {}

        public static function create(array $defaultOptions = []): HttpClientInterface
        {
            return new self($defaultOptions);
        }

        /** Options used here: base_uri, timeout, headers, query, json. */
        public function request(string $method, string $url, array $options = []): CurlResponse
        {
            $o = array_replace($this->defaults, $options);
            if (!preg_match('#^https?://#', $url)) $url = rtrim((string) ($o['base_uri'] ?? ''), '/') . '/' . ltrim($url, '/');
            if (!empty($o['query'])) $url .= (str_contains($url, '?') ? '&' : '?') . http_build_query($o['query']);
            $headers = [];
            foreach ((array) ($o['headers'] ?? []) as $k => $v) $headers[] = is_int($k) ? $v : "$k: $v";
            $ch = curl_init($url);
            $curl = [CURLOPT_CUSTOMREQUEST => $method, CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => (int) ($o['timeout'] ?? 10)];
            if (array_key_exists('json', $o)) {
                $curl[CURLOPT_POSTFIELDS] = json_encode($o['json']);
                $headers[] = 'Content-Type: application/json';
            }
            $curl[CURLOPT_HTTPHEADER] = $headers;
            curl_setopt_array($ch, $curl);
            $body = curl_exec($ch);
            $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
            curl_close($ch);
            if ($body === false) throw new \RuntimeException("transport failure for \"$url\"");
            return new CurlResponse($status, (string) $body, $url);
        }
    }
}

namespace EasyWeChat\Kernel\Contracts {
    interface AccessToken
    {
        public function getToken(): string;

        /** @return array<string,string> */
        public function toQuery(): array;
    }

    interface RefreshableAccessToken extends AccessToken
    {
        public function refresh(): string;
    }
}

namespace EasyWeChat\Kernel\HttpClient {
    use Closure;
    use EasyWeChat\Kernel\Contracts\AccessToken;
    use Symfony\Component\HttpClient\Response\CurlResponse;
    use Symfony\Contracts\HttpClient\HttpClientInterface;

    class Response
    {
        public function __construct(protected CurlResponse $response, protected ?Closure $failureJudge = null, protected bool $throw = true) {}

        public function isFailed(): bool
        {
            return $this->failureJudge ? (bool) ($this->failureJudge)($this) : $this->response->getStatusCode() >= 400;
        }

        public function toArray(?bool $throw = null): array
        {
            return $this->response->toArray($throw ?? $this->throw);
        }

        public function getInfo(?string $type = null): mixed
        {
            return $this->response->getInfo($type);
        }
    }

    class AccessTokenAwareClient
    {
        public function __construct(protected HttpClientInterface $client, protected ?AccessToken $accessToken = null, protected ?Closure $failureJudge = null, protected bool $throw = true) {}

        public function request(string $method, string $url, array $options = []): Response
        {
            if ($this->accessToken) {
                $options['query'] = array_merge((array) ($options['query'] ?? []), $this->accessToken->toQuery());
            }
            return new Response($this->client->request($method, ltrim($url, '/'), $options), $this->failureJudge, $this->throw);
        }
    }
}

namespace EasyWeChat\OfficialAccount {
    use EasyWeChat\Kernel\Contracts\AccessToken;
    use EasyWeChat\Kernel\HttpClient\AccessTokenAwareClient;
    use EasyWeChat\Kernel\HttpClient\Response;
    use Symfony\Component\HttpClient\HttpClient;
    use Symfony\Contracts\HttpClient\HttpClientInterface;

    class Application
    {
        private ?AccessToken $accessToken = null;
        private ?AccessTokenAwareClient $client = null;
        private ?HttpClientInterface $httpClient = null;

        public function __construct(private array $config) {}

        public function getAccessToken(): AccessToken
        {
            // The stock one builds EasyWeChat\OfficialAccount\AccessToken, which calls WeChat with the secret.
            return $this->accessToken ?? throw new \LogicException('the stand-in has no default AccessToken: call setAccessToken()');
        }

        public function setAccessToken(AccessToken $accessToken): static
        {
            $this->accessToken = $accessToken;
            return $this;
        }

        public function getClient(): AccessTokenAwareClient
        {
            return $this->client ??= $this->createClient();
        }

        public function getHttpClient(): HttpClientInterface
        {
            return $this->httpClient ??= HttpClient::create(array_merge(['base_uri' => 'https://api.weixin.qq.com/'], (array) ($this->config['http'] ?? [])));
        }

        public function setHttpClient(HttpClientInterface $httpClient): static
        {
            $this->httpClient = $httpClient;
            return $this;
        }

        public function createClient(): AccessTokenAwareClient
        {
            return new AccessTokenAwareClient(
                client: $this->getHttpClient(),
                accessToken: $this->getAccessToken(),
                failureJudge: fn (Response $response) => (bool) ($response->toArray()['errcode'] ?? 0),
                throw: (bool) ($this->config['http']['throw'] ?? true),
            );
        }
    }
}
