<?php
// A PHP business server calling wxtoken's HTTP/JSON API with nothing but
// php-curl: get a token, report it stale (passive refresh), read two events
// of the token's server-sent event stream. Run by test/interop/php-client.test.ts,
// which sets WXTOKEN_HTTP (http://host:port) and WXTOKEN_APP_ID.
declare(strict_types=1);

$base = getenv('WXTOKEN_HTTP') ?: exit("set WXTOKEN_HTTP\n");
$app = getenv('WXTOKEN_APP_ID') ?: exit("set WXTOKEN_APP_ID\n");

function call(string $method, string $url, ?array $body = null): array {
    $ch = curl_init($url);
    $opts = [CURLOPT_CUSTOMREQUEST => $method, CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 10];
    if ($body !== null) {
        $opts[CURLOPT_POSTFIELDS] = json_encode($body);
        $opts[CURLOPT_HTTPHEADER] = ['Content-Type: application/json'];
    }
    curl_setopt_array($ch, $opts);
    $text = curl_exec($ch);
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    curl_close($ch);
    if ($text === false) throw new RuntimeException("curl failed for $url");
    return [$status, json_decode($text, true)];
}

function check(bool $ok, string $what): void {
    if (!$ok) { fwrite(STDERR, "FAIL: $what\n"); exit(1); }
    echo "ok: $what\n";
}

// 1. The current token.
[$status, $got] = call('GET', "$base/v1/apps/$app/token");
check($status === 200 && isset($got['token']['accessToken']), 'GET token answers 200 with a token');
$token = $got['token'];
check($token['appId'] === $app && ctype_digit($token['version']), 'the token names its app and has a version');

// 2. WeChat said 40001 for it: passive refresh with the stale token.
[$status, $refreshed] = call('POST', "$base/v1/apps/$app/token:refresh", ['staleToken' => $token['accessToken']]);
check($status === 200 && ($refreshed['refreshed'] ?? false) === true, 'refresh with the stale token refreshes');
check($refreshed['token']['accessToken'] !== $token['accessToken'], 'and answers a new token');
[$status, $again] = call('POST', "$base/v1/apps/$app/token:refresh", ['staleToken' => $token['accessToken']]);
check(!isset($again['refreshed']) && $again['token']['accessToken'] === $refreshed['token']['accessToken'], 'a second report of the same stale token costs nothing');

// 3. An unknown app: 404 with a google.rpc.Status.
[$status, $err] = call('GET', "$base/v1/apps/wxnotconfigured00/token");
check($status === 404 && $err['details'][0]['reason'] === 'UNKNOWN_APP', 'an unknown app is 404 UNKNOWN_APP');

// 4. Two events from the stream: the current token, then the next one, which
//    this script causes by reporting the current token stale mid-stream.
$events = [];
$buffer = '';
$current = $refreshed['token']['accessToken'];
$ch = curl_init("$base/v1/apps/$app/token:watch");
curl_setopt_array($ch, [
    CURLOPT_HTTPHEADER => ['Accept: text/event-stream'],
    CURLOPT_TIMEOUT => 15,
    CURLOPT_WRITEFUNCTION => function ($ch, string $chunk) use (&$events, &$buffer, $base, $app, &$current): int {
        $buffer .= $chunk;
        while (($at = strpos($buffer, "\n\n")) !== false) {
            $block = substr($buffer, 0, $at);
            $buffer = substr($buffer, $at + 2);
            $event = ['id' => null, 'event' => 'message', 'data' => ''];
            foreach (explode("\n", $block) as $line) {
                if (str_starts_with($line, 'id: ')) $event['id'] = substr($line, 4);
                elseif (str_starts_with($line, 'event: ')) $event['event'] = substr($line, 7);
                elseif (str_starts_with($line, 'data: ')) $event['data'] .= substr($line, 6);
            }
            if ($event['data'] === '') continue;
            $events[] = $event;
            if (count($events) === 1) call('POST', "$base/v1/apps/$app/token:refresh", ['staleToken' => $current]);
            if (count($events) === 2) return 0; // enough: abort the transfer
        }
        return strlen($chunk);
    },
]);
curl_exec($ch);
curl_close($ch);
check(count($events) === 2, 'the stream delivered two events');
$first = json_decode($events[0]['data'], true)['token'];
$second = json_decode($events[1]['data'], true)['token'];
check($events[0]['event'] === 'token' && $first['accessToken'] === $current, 'the first event is the current token');
check((int)$events[1]['id'] === (int)$first['version'] + 1 && $second['accessToken'] !== $current, 'the second is the next version, its id the version');
echo "PHP client: all passed\n";
