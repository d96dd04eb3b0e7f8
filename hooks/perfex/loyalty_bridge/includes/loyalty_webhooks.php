<?php
/**
 * Talk to loyalty_plugin from a PHP host (Perfex CRM or any other): sign and send host
 * events, and verify the webhooks loyalty_plugin sends back. Standard Webhooks signatures;
 * PHP 7.4 or newer, core extensions only (hash, json; openssl for https).
 *
 * Copy this file into your host:
 *
 *     require 'loyalty_webhooks.php';
 *     [$status, $answer] = loyalty_send_event(
 *         'https://crm.example.com/loyalty/webhooks',
 *         'whsec_...',
 *         ['type' => 'invoice.paid', 'occurred_at' => gmdate('c'),
 *          'data' => ['invoice' => [...]]],
 *         'invoice-1001-paid'   // a retry of the same event reuses its id
 *     );
 *
 *     // In the endpoint that receives loyalty_plugin's own webhooks:
 *     $body = file_get_contents('php://input');
 *     if (!loyalty_verify(['whsec_...'], loyalty_request_headers(), $body)) {
 *         http_response_code(401);
 *         exit;
 *     }
 */

declare(strict_types=1);

/** Seconds a webhook timestamp may differ from our clock. */
const LOYALTY_TOLERANCE_SECONDS = 300;

/** The `webhook-signature` header: "v1," and the base64 HMAC-SHA256 of the message. */
function loyalty_sign(string $secret, string $msgId, int $timestamp, string $body): string
{
    $key = base64_decode(loyalty_secret_part($secret), true);
    if ($key === false) {
        throw new InvalidArgumentException('the secret is not whsec_ and base64');
    }
    $digest = hash_hmac('sha256', $msgId . '.' . $timestamp . '.' . $body, $key, true);
    return 'v1,' . base64_encode($digest);
}

/**
 * POST $event signed with $secret. Returns [HTTP status, decoded answer]; status 0 when the
 * service could not be reached (retry later with the same $eventId).
 */
function loyalty_send_event(
    string $url,
    string $secret,
    array $event,
    ?string $eventId = null,
    int $timeout = 10
): array {
    $body = json_encode($event, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
    $msgId = $eventId ?? 'msg_' . bin2hex(random_bytes(16));
    $timestamp = time();
    $headers = [
        'Content-Type: application/json',
        'webhook-id: ' . $msgId,
        'webhook-timestamp: ' . $timestamp,
        'webhook-signature: ' . loyalty_sign($secret, $msgId, $timestamp, $body),
    ];
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => implode("\r\n", $headers),
        'content' => $body,
        'timeout' => $timeout,
        'ignore_errors' => true,  // read the answer of a 4xx or 5xx too
    ]]);
    $answer = @file_get_contents($url, false, $context);
    $status = loyalty_status($http_response_header ?? []);
    if ($answer === false || $status === 0) {
        return [0, []];
    }
    return [$status, json_decode($answer, true) ?? []];
}

/**
 * True when $body was signed with one of $secrets, within the tolerance of $now.
 * $headers: header names (any case) to values; several signatures may be space-separated.
 */
function loyalty_verify(
    array $secrets,
    array $headers,
    string $body,
    int $tolerance = LOYALTY_TOLERANCE_SECONDS,
    ?int $now = null
): bool {
    $headers = array_change_key_case($headers, CASE_LOWER);
    $msgId = $headers['webhook-id'] ?? '';
    $timestamp = $headers['webhook-timestamp'] ?? '';
    $signatures = $headers['webhook-signature'] ?? '';
    if ($msgId === '' || !ctype_digit($timestamp) || $signatures === '') {
        return false;
    }
    if (abs(($now ?? time()) - (int) $timestamp) > $tolerance) {
        return false;
    }
    foreach ($secrets as $secret) {
        $expected = loyalty_sign($secret, $msgId, (int) $timestamp, $body);
        foreach (explode(' ', $signatures) as $candidate) {
            if (hash_equals($expected, $candidate)) {
                return true;
            }
        }
    }
    return false;
}

/** The current request's headers, lower-case names (for loyalty_verify). */
function loyalty_request_headers(): array
{
    $found = [];
    foreach ($_SERVER as $name => $value) {
        if (strncmp($name, 'HTTP_', 5) === 0) {
            $found[strtolower(str_replace('_', '-', substr($name, 5)))] = $value;
        }
    }
    return $found;
}

function loyalty_secret_part(string $secret): string
{
    return strncmp($secret, 'whsec_', 6) === 0 ? substr($secret, 6) : $secret;
}

function loyalty_status(array $responseHeaders): int
{
    foreach (array_reverse($responseHeaders) as $line) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $match)) {
            return (int) $match[1];
        }
    }
    return 0;
}
