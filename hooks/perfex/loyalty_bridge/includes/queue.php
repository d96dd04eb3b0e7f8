<?php
/**
 * The durable queue: every event is written to tblloyalty_bridge_queue first and sent
 * after, signed (Standard Webhooks), with a short timeout. A failure is retried with
 * backoff from Perfex's cron and, a few at a time, on admin page loads. The webhook id is
 * the row's, so a retry is deduplicated by the plugin; a claim (claim_token, claimed_at)
 * keeps two cron runs from sending one row at the same time.
 */

defined('BASEPATH') or exit('No direct script access allowed');

/** Seconds one delivery may take, connection included: Perfex's own request waits no longer. */
const LOYALTY_BRIDGE_TIMEOUT = 2;
/** Attempts before a row is marked failed (about three days with the backoff below). */
const LOYALTY_BRIDGE_MAX_ATTEMPTS = 20;
/** A claim older than this is taken to be from a run that died. */
const LOYALTY_BRIDGE_CLAIM_SECONDS = 300;

function loyalty_bridge_queue_table(): string
{
    return db_prefix() . 'loyalty_bridge_queue';
}

function loyalty_bridge_now(): string
{
    return date('Y-m-d H:i:s');
}

/**
 * Queue an event under a webhook id that names its business fact. The same fact queued
 * again (a hook fired twice) is ignored. Returns true when the row is new.
 */
function loyalty_bridge_enqueue(string $webhookId, array $event): bool
{
    $db = loyalty_bridge_db();
    $db->query(
        'INSERT IGNORE INTO ' . loyalty_bridge_queue_table()
        . ' (webhook_id, event_type, body, status, attempts, next_attempt_at, created_at)'
        . " VALUES (?, ?, ?, 'pending', 0, ?, ?)",
        [
            $webhookId,
            $event['type'],
            json_encode($event, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR),
            loyalty_bridge_now(),
            loyalty_bridge_now(),
        ]
    );
    return $db->affected_rows() === 1;
}

/** True when a row with this webhook id was queued (sent or not). */
function loyalty_bridge_queued(string $webhookId): bool
{
    return loyalty_bridge_queued_row($webhookId) !== null;
}

/** The webhook id of the row last queued whose id starts with $prefix, if any. */
function loyalty_bridge_last_queued_id(string $prefix): ?string
{
    $row = loyalty_bridge_db()
        ->like('webhook_id', $prefix, 'after')
        ->order_by('id', 'DESC')
        ->limit(1)
        ->get(loyalty_bridge_queue_table())
        ->row_array();
    return $row['webhook_id'] ?? null;
}

function loyalty_bridge_queued_row(string $webhookId): ?array
{
    $row = loyalty_bridge_db()
        ->where('webhook_id', $webhookId)
        ->get(loyalty_bridge_queue_table())
        ->row_array();
    return $row ?: null;
}

/**
 * Send up to $limit due rows, oldest first. Stops at the first row the plugin could not
 * be reached for (the rest would wait as long). Returns the number of rows sent.
 */
function loyalty_bridge_drain(int $limit, array $only = []): int
{
    if (loyalty_bridge_webhooks_url() === '' || loyalty_bridge_option('loyalty_bridge_secret') === '') {
        return 0;
    }
    $sent = 0;
    foreach (loyalty_bridge_due_ids($limit, $only) as $id) {
        $token = loyalty_bridge_claim($id);
        if ($token === null) {
            continue;  // another run has it
        }
        $outcome = loyalty_bridge_deliver($id, $token);
        if ($outcome === 'sent') {
            $sent++;
        } elseif ($outcome === 'unreachable') {
            break;
        }
    }
    return $sent;
}

/** Ids of pending rows due now and not claimed (or claimed by a run that died). */
function loyalty_bridge_due_ids(int $limit, array $only = []): array
{
    $sql = 'SELECT id FROM ' . loyalty_bridge_queue_table()
        . " WHERE status = 'pending' AND next_attempt_at <= ?"
        . ' AND (claimed_at IS NULL OR claimed_at < ?)';
    $bindings = [loyalty_bridge_now(), date('Y-m-d H:i:s', time() - LOYALTY_BRIDGE_CLAIM_SECONDS)];
    if ($only) {
        $sql .= ' AND id IN (' . implode(',', array_fill(0, count($only), '?')) . ')';
        $bindings = array_merge($bindings, array_map('intval', $only));
    }
    $sql .= ' ORDER BY id LIMIT ' . max(1, (int) $limit);
    return array_map(
        static fn ($row) => (int) $row['id'],
        loyalty_bridge_db()->query($sql, $bindings)->result_array()
    );
}

/** Claim one row; the token when this run holds it, null when another one does. */
function loyalty_bridge_claim(int $id): ?string
{
    $db = loyalty_bridge_db();
    $token = bin2hex(random_bytes(16));
    $db->query(
        'UPDATE ' . loyalty_bridge_queue_table() . ' SET claim_token = ?, claimed_at = ?'
        . " WHERE id = ? AND status = 'pending' AND (claimed_at IS NULL OR claimed_at < ?)",
        [$token, loyalty_bridge_now(), $id, date('Y-m-d H:i:s', time() - LOYALTY_BRIDGE_CLAIM_SECONDS)]
    );
    return $db->affected_rows() === 1 ? $token : null;
}

/** Send one claimed row and record the outcome: 'sent', 'retry', 'failed' or 'unreachable'. */
function loyalty_bridge_deliver(int $id, string $token): string
{
    $row = loyalty_bridge_row('loyalty_bridge_queue', 'id', $id);
    if ($row['event_type'] === LOYALTY_BRIDGE_RETURN_POINTS) {  // an API call, see points.php
        [$status, $answer, $error] = loyalty_bridge_return_points_now(json_decode((string) $row['body'], true));
    } else {
        [$status, $answer, $error] = loyalty_bridge_post(
            loyalty_bridge_webhooks_url(),
            loyalty_bridge_option('loyalty_bridge_secret'),
            (string) $row['webhook_id'],
            (string) $row['body']
        );
    }
    $attempts = (int) $row['attempts'] + 1;
    $outcome = loyalty_bridge_outcome($status);
    if ($outcome !== 'sent' && $outcome !== 'failed' && $attempts >= LOYALTY_BRIDGE_MAX_ATTEMPTS) {
        $outcome = 'failed';
    }
    $changes = [
        'attempts' => $attempts,
        'last_status' => $status,
        'last_error' => $outcome === 'sent' ? null : loyalty_bridge_error_text($status, $answer, $error),
        'claim_token' => null,
        'claimed_at' => null,
    ];
    if ($outcome === 'sent') {
        $changes += ['status' => 'sent', 'sent_at' => loyalty_bridge_now()];
    } elseif ($outcome === 'failed') {
        $changes += ['status' => 'failed'];
    } else {
        $changes += ['next_attempt_at' => date('Y-m-d H:i:s', time() + loyalty_bridge_backoff($attempts))];
    }
    loyalty_bridge_db()->where('id', $id)->where('claim_token', $token)
        ->update(loyalty_bridge_queue_table(), $changes);
    return $outcome;
}

/**
 * What an answer means for the row: 200 and 202 are delivered; 400, 413, 415 and 422 will
 * not change on a retry (the row fails, to be looked at); anything else is retried.
 */
function loyalty_bridge_outcome(int $status): string
{
    if ($status === 200 || $status === 202) {
        return 'sent';
    }
    if (in_array($status, [400, 413, 415, 422], true)) {
        return 'failed';
    }
    return $status === 0 ? 'unreachable' : 'retry';
}

/** Seconds before attempt $attempts + 1: 30 s doubling, at most 6 hours. */
function loyalty_bridge_backoff(int $attempts): int
{
    return (int) min(6 * 3600, 30 * 2 ** min(20, max(0, $attempts - 1)));
}

function loyalty_bridge_error_text(int $status, array $answer, string $error): string
{
    if ($status === 0) {
        return 'the plugin could not be reached: ' . $error;
    }
    $message = $answer['error']['message'] ?? ($answer['error']['code'] ?? '');
    if (isset($answer['error']['fields']) && is_array($answer['error']['fields'])) {
        $message .= ' ' . json_encode($answer['error']['fields'], JSON_UNESCAPED_SLASHES);
    }
    return substr('HTTP ' . $status . ($message !== '' ? ': ' . $message : ''), 0, 2000);
}

/**
 * POST a stored body, signed, with a timeout of LOYALTY_BRIDGE_TIMEOUT seconds. Returns
 * [HTTP status (0: not reached), decoded answer, error text]. Never throws.
 */
function loyalty_bridge_post(string $url, string $secret, string $webhookId, string $body): array
{
    try {
        $timestamp = time();
        $headers = [
            'Content-Type: application/json',
            'webhook-id: ' . $webhookId,
            'webhook-timestamp: ' . $timestamp,
            'webhook-signature: ' . loyalty_sign($secret, $webhookId, $timestamp, $body),
        ];
    } catch (Throwable $error) {
        return [0, [], 'the webhook secret is not whsec_ followed by base64'];
    }
    return loyalty_bridge_http('POST', $url, $headers, $body);
}

/** One HTTP request with the short timeout; [status, decoded JSON answer, error text]. */
function loyalty_bridge_http(string $method, string $url, array $headers, string $body = ''): array
{
    if (!preg_match('#^https?://#i', $url)) {
        return [0, [], 'the plugin URL must start with http:// or https://'];
    }
    $context = stream_context_create(['http' => [
        'method' => $method,
        'header' => implode("\r\n", $headers),
        'content' => $body,
        'timeout' => LOYALTY_BRIDGE_TIMEOUT,
        'ignore_errors' => true,
        'follow_location' => 0,
    ]]);
    $http_response_header = [];
    $previous = error_reporting(0);
    $answer = file_get_contents($url, false, $context);
    error_reporting($previous);
    $status = loyalty_status($http_response_header ?? []);
    if ($answer === false || $status === 0) {
        $last = error_get_last();
        return [0, [], $last['message'] ?? 'no answer within ' . LOYALTY_BRIDGE_TIMEOUT . ' seconds'];
    }
    $decoded = json_decode($answer, true);
    return [$status, is_array($decoded) ? $decoded : [], ''];
}

/** Put a failed (or pending) row back to be sent at the next drain. */
function loyalty_bridge_retry(int $id): bool
{
    $db = loyalty_bridge_db();
    $db->where('id', $id)->where_in('status', ['pending', 'failed'])->update(loyalty_bridge_queue_table(), [
        'status' => 'pending',
        'next_attempt_at' => loyalty_bridge_now(),
        'claim_token' => null,
        'claimed_at' => null,
    ]);
    return $db->affected_rows() === 1;
}

/** Rows not sent yet (pending or failed), newest first, for the queue page. */
function loyalty_bridge_unsent(int $limit = 200): array
{
    return loyalty_bridge_db()
        ->where_in('status', ['pending', 'failed'])
        ->order_by('id', 'DESC')
        ->limit($limit)
        ->get(loyalty_bridge_queue_table())
        ->result_array();
}

/**
 * The "send a test event" button: a signed event of a type the plugin does not know. It
 * changes no points; the plugin answers 422 (unknown type) only after the URL, merchant,
 * secret and clock all passed. Then the API key is tried on a read. Returns
 * ['ok' => bool, 'messages' => [...]] in words for the owner.
 */
function loyalty_bridge_test_connection(): array
{
    $url = loyalty_bridge_webhooks_url();
    if ($url === '' || loyalty_bridge_option('loyalty_bridge_secret') === '') {
        return ['ok' => false, 'messages' => [_l('loyalty_bridge_test_not_configured')]];
    }
    $event = loyalty_bridge_envelope('perfex.connection_test', ['sent_by' => 'loyalty_bridge']);
    $body = json_encode($event, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
    $id = 'perfex-test-' . bin2hex(random_bytes(8));
    [$status, $answer, $error] = loyalty_bridge_post($url, loyalty_bridge_option('loyalty_bridge_secret'), $id, $body);
    $messages = [];
    $ok = $status === 422 && isset($answer['error']['fields']['type']);
    if ($ok) {
        $messages[] = _l('loyalty_bridge_test_ok');
    } elseif ($status === 0) {
        $messages[] = _l('loyalty_bridge_test_unreachable') . ' ' . $error;
    } elseif ($status === 401) {
        $messages[] = _l('loyalty_bridge_test_signature') . ' ' . ($answer['error']['message'] ?? '');
    } elseif ($status === 404) {
        $messages[] = _l('loyalty_bridge_test_not_found') . ' ' . $url;
    } else {
        $messages[] = _l('loyalty_bridge_test_unexpected') . ' ' . loyalty_bridge_error_text($status, $answer, $error);
    }
    $key = loyalty_bridge_option('loyalty_bridge_api_key');
    if ($ok && $key !== '') {
        $probe = rtrim(loyalty_bridge_option('loyalty_bridge_url'), '/') . '/api/v1/customers/perfex-connection-test';
        [$keyStatus] = loyalty_bridge_http('GET', $probe, ['Authorization: Bearer ' . $key]);
        $keyOk = $keyStatus === 404;
        $ok = $ok && $keyOk;
        $messages[] = $keyOk ? _l('loyalty_bridge_test_key_ok')
            : _l('loyalty_bridge_test_key_bad') . ' (HTTP ' . $keyStatus . ')';
    }
    return ['ok' => $ok, 'messages' => $messages];
}
