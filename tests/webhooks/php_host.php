<?php
// Test harness: runs one call of hooks/php/loyalty_webhooks.php given as JSON on stdin and
// prints the result as JSON. Used by tests/webhooks/test_php_host.py.
declare(strict_types=1);
require __DIR__ . '/../../hooks/php/loyalty_webhooks.php';

$call = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
switch ($call['op']) {
    case 'sign':
        $result = loyalty_sign($call['secret'], $call['id'], (int) $call['timestamp'], $call['body']);
        break;
    case 'verify':
        $result = loyalty_verify($call['secrets'], $call['headers'], $call['body'], 300, $call['now']);
        break;
    case 'send':
        $result = loyalty_send_event($call['url'], $call['secret'], $call['event'], $call['id']);
        break;
    default:
        fwrite(STDERR, "unknown op\n");
        exit(2);
}
echo json_encode($result);
