<?php
/**
 * Test harness: runs one Perfex action given as JSON on stdin against the stand-in
 * (bootstrap.php) and prints its result as JSON, with the seconds the action took.
 * Used by tests/webhooks/test_perfex_module.py, which serves the plugin on loopback.
 */

declare(strict_types=1);

require __DIR__ . '/bootstrap.php';

$call = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
if ($call['op'] === 'sign') {  // no database: the module's signature of a fixed body
    require_once PERFEX_MODULE_DIR . '/includes/loyalty_webhooks.php';
    echo json_encode(['result' => loyalty_sign($call['secret'], $call['id'], $call['timestamp'], $call['body'])]);
    exit(0);
}
require __DIR__ . '/perfex_actions.php';
if ($call['op'] !== 'setup') {
    require_once PERFEX_MODULE_DIR . '/loyalty_bridge.php';
}
$started = microtime(true);
switch ($call['op']) {
    case 'setup':
        perfex_fresh_database();
        $result = perfex_currency($call['currency'] ?? 'EUR');
        break;
    case 'options':
        foreach ($call['options'] as $name => $value) {
            update_option($name, $value);
        }
        $result = true;
        break;
    case 'client':
        $result = perfex_add_client($call['first'], $call['last'], $call['email'], $call['extra'] ?? []);
        break;
    case 'invoice':
        $result = perfex_add_invoice($call['client'], $call['currency'], $call['lines'], $call['tax'] ?? '0.00');
        break;
    case 'payment':
        $result = perfex_add_payment($call['invoice'], $call['amount']);
        break;
    case 'delete_payment':
        $result = perfex_delete_payment($call['payment']);
        break;
    case 'credit_note':
        $result = perfex_add_credit_note($call['client'], $call['currency'], $call['lines']);
        break;
    case 'apply_credit':
        $result = perfex_apply_credit($call['credit_note'], $call['invoice'], $call['amount']);
        break;
    case 'delete_applied_credit':
        perfex_delete_applied_credit($call['credit'], $call['invoice']);
        $result = true;
        break;
    case 'credit_note_from_invoice':
        $result = perfex_credit_note_from_invoice($call['invoice'], $call['currency'], $call['lines']);
        break;
    case 'refund_credit_note':
        $result = perfex_refund_credit_note($call['credit_note'], $call['amount']);
        break;
    case 'delete_credit_note_refund':
        perfex_delete_credit_note_refund($call['refund'], $call['credit_note']);
        $result = true;
        break;
    case 'customer_group':
        perfex_add_customer_group($call['client'], $call['name']);
        $result = true;
        break;
    case 'cancel':
        $result = perfex_cancel_invoice($call['invoice']);
        break;
    case 'uncancel':
        $result = perfex_uncancel_invoice($call['invoice']);
        break;
    case 'fire':
        hooks()->do_action($call['hook'], $call['argument']);
        $result = true;
        break;
    case 'cron':
        hooks()->do_action('after_cron_run', false);
        $result = true;
        break;
    case 'later':  // the backoff has passed: every due time moves back by an hour
        perfex_db()->query('UPDATE tblloyalty_bridge_queue SET next_attempt_at = next_attempt_at - INTERVAL 1 HOUR');
        $result = true;
        break;
    case 'queue':
        $result = perfex_queue();
        break;
    case 'portal_link':
        $result = loyalty_bridge_portal_link($call['client']);
        break;
    case 'points_offer':
        $result = loyalty_bridge_points_offer($call['invoice']);
        break;
    case 'pay_with_points':
        $result = loyalty_bridge_pay_with_points($call['invoice']);
        break;
    case 'admin_link':  // a staff member (tblstaff) asks for the "Loyalty" link
        $staffId = perfex_insert('staff', ['email' => $call['email'], 'firstname' => $call['first'], 'lastname' => $call['last']]);
        $result = loyalty_bridge_admin_link(loyalty_bridge_row('staff', 'staffid', $staffId), $call['role']);
        break;
    case 'render_settings':  // the settings section's view, as Perfex includes it in its form
        ob_start();
        include PERFEX_MODULE_DIR . '/views/settings.php';
        $result = ob_get_clean();
        break;
    case 'custom_field':
        $result = perfex_birthday_field();
        break;
    case 'test_connection':
        $result = loyalty_bridge_test_connection();
        break;
    default:
        fwrite(STDERR, "unknown op\n");
        exit(2);
}
echo json_encode(['result' => $result, 'seconds' => microtime(true) - $started, 'log' => $GLOBALS['perfex_log'] ?? []]);
