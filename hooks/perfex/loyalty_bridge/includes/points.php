<?php
/**
 * Paying an invoice with points, from the admin invoice screen or the customers-area invoice
 * page: the offer (POST /checkout/quote), then the hold (POST /redemptions), recorded in
 * Perfex as a payment of the module's own payment mode, "Loyalty points", for the hold's
 * value, then the capture. Such a payment earns no points: invoice.paid is sent with the
 * amount paid in money and names the hold. Deleting it gives the points back.
 */

defined('BASEPATH') or exit('No direct script access allowed');

/** The id of the module's payment mode (tblpayment_modes), 0 before the install made it. */
function loyalty_bridge_payment_mode(): int
{
    return (int) loyalty_bridge_option('loyalty_bridge_payment_mode');
}

/** The hold a payment of the loyalty mode records ("loyalty-redemption-{id}"), or null. */
function loyalty_bridge_payment_redemption(array $payment): ?int
{
    if ((int) $payment['paymentmode'] !== loyalty_bridge_payment_mode() || loyalty_bridge_payment_mode() === 0) {
        return null;
    }
    return preg_match('/^loyalty-redemption-(\d+)$/', (string) $payment['transactionid'], $m) ? (int) $m[1] : null;
}

/** The invoice's payments of the loyalty mode. */
function loyalty_bridge_points_payments(int $invoiceId): array
{
    $mode = loyalty_bridge_payment_mode();  // read before the query below starts (one builder)
    if ($mode === 0) {
        return [];
    }
    return loyalty_bridge_db()->where('invoiceid', $invoiceId)->where('paymentmode', (string) $mode)
        ->order_by('id', 'ASC')->get(db_prefix() . 'invoicepaymentrecords')->result_array();
}

/**
 * The invoice as invoice.paid sends it: what points paid is taken off (into
 * discount_total, out of total) and the hold is named, so points never earn points.
 */
function loyalty_bridge_invoice_paid_in_money(int $invoiceId): ?array
{
    $invoice = loyalty_bridge_invoice($invoiceId);
    if ($invoice === null) {
        return null;
    }
    $points = 0;
    foreach (loyalty_bridge_points_payments($invoiceId) as $payment) {
        $points += loyalty_bridge_cents($payment['amount']);
        $invoice['redemption_id'] = loyalty_bridge_payment_redemption($payment) ?? ($invoice['redemption_id'] ?? null);
    }
    if ($points > 0) {
        $invoice['discount_total'] = loyalty_bridge_money(loyalty_bridge_cents($invoice['discount_total']) + $points);
        $invoice['total'] = loyalty_bridge_money(max(0, loyalty_bridge_cents($invoice['total']) - $points));
    }
    return array_filter($invoice, static fn ($v) => $v !== null);
}

/** What is left to pay on the invoice, in hundredths (total less payments and credits). */
function loyalty_bridge_left_to_pay(int $invoiceId): int
{
    $invoice = loyalty_bridge_row('invoices', 'id', $invoiceId);
    $left = loyalty_bridge_cents($invoice['total']);
    foreach (loyalty_bridge_db()->where('invoiceid', $invoiceId)->get(db_prefix() . 'invoicepaymentrecords')->result_array() as $p) {
        $left -= loyalty_bridge_cents($p['amount']);
    }
    foreach (loyalty_bridge_db()->where('invoice_id', $invoiceId)->get(db_prefix() . 'credits')->result_array() as $c) {
        $left -= loyalty_bridge_cents($c['amount']);
    }
    return $left;
}

/** A call to the plugin's API with the API key: [status, answer, error]. */
function loyalty_bridge_api(string $method, string $path, array $body = [], ?string $idempotencyKey = null): array
{
    $base = rtrim(trim(loyalty_bridge_option('loyalty_bridge_url')), '/');
    $key = loyalty_bridge_option('loyalty_bridge_api_key');
    if ($base === '' || $key === '') {
        return [0, [], 'the plugin URL and API key are not set'];
    }
    $merchant = trim(loyalty_bridge_option('loyalty_bridge_merchant_id'));
    $headers = ['Authorization: Bearer ' . $key];
    if ($method === 'GET') {
        $query = $merchant === '' ? '' : '?merchant_id=' . rawurlencode($merchant);
        return loyalty_bridge_http('GET', $base . '/api/v1' . $path . $query, $headers);
    }
    if ($merchant !== '') {
        $body['merchant_id'] = $merchant;
    }
    $headers[] = 'Content-Type: application/json';
    if ($idempotencyKey !== null) {
        $headers[] = 'Idempotency-Key: ' . $idempotencyKey;
    }
    return loyalty_bridge_http($method, $base . '/api/v1' . $path, $headers, json_encode((object) $body, JSON_UNESCAPED_SLASHES));
}

/**
 * The points the customer can use on this invoice and their value, within what is left to
 * pay: ['points', 'amount', 'currency', 'balance'], or ['error' => ...]. Null when the
 * invoice cannot be paid with points (paid, cancelled, draft, nothing left to pay).
 */
function loyalty_bridge_points_offer(int $invoiceId): ?array
{
    $row = loyalty_bridge_row('invoices', 'id', $invoiceId);
    if ($row === null || in_array((int) $row['status'], [2, 5, 6], true) || loyalty_bridge_left_to_pay($invoiceId) <= 0) {
        return null;
    }
    $invoice = loyalty_bridge_invoice($invoiceId);
    $ask = ['customer_id' => $invoice['customer_id'], 'invoice' => $invoice];
    [$status, $quote, $error] = loyalty_bridge_api('POST', '/checkout/quote', $ask);
    if ($status !== 200) {
        return ['error' => loyalty_bridge_error_text($status, $quote, $error)];
    }
    $left = loyalty_bridge_left_to_pay($invoiceId);
    $amount = loyalty_bridge_cents((string) $quote['amount']);
    if ($amount > $left && (int) $quote['points'] > 0) {  // no more than is left to pay
        $ask['points'] = intdiv((int) $quote['points'] * $left, $amount);
        [$status, $quote, $error] = loyalty_bridge_api('POST', '/checkout/quote', $ask);
        if ($status !== 200) {
            return ['error' => loyalty_bridge_error_text($status, $quote, $error)];
        }
    }
    return [
        'points' => (int) $quote['points'],
        'amount' => loyalty_bridge_decimal((string) $quote['amount']),
        'currency' => (string) $quote['currency'],
        'balance' => (int) ($quote['balance'] ?? 0),
    ];
}

/**
 * Pay what the offer allows with points: hold them, record the payment (Perfex's
 * payments_model, so its status, e-mails and hooks run as for any payment), capture.
 * Returns ['payment_id', 'points', 'amount'] or ['error' => ...].
 */
function loyalty_bridge_pay_with_points(int $invoiceId): array
{
    $offer = loyalty_bridge_points_offer($invoiceId);
    if ($offer === null || isset($offer['error']) || $offer['points'] <= 0 || loyalty_bridge_payment_mode() === 0) {
        return ['error' => $offer['error'] ?? _l('loyalty_bridge_no_points')];
    }
    $invoice = loyalty_bridge_invoice($invoiceId);
    [$status, $hold, $error] = loyalty_bridge_api('POST', '/redemptions', [
        'customer_id' => $invoice['customer_id'], 'invoice' => $invoice, 'points' => $offer['points'],
    ], 'perfex-invoice-' . $invoiceId . '-hold-' . time());
    if ($status !== 201 || !isset($hold['id'])) {
        return ['error' => loyalty_bridge_error_text($status, $hold, $error)];
    }
    $CI = &get_instance();
    $CI->load->model('payments_model');
    $paymentId = $CI->payments_model->add([
        'invoiceid' => $invoiceId,
        'amount' => loyalty_bridge_decimal((string) $hold['amount']),
        'paymentmode' => (string) loyalty_bridge_payment_mode(),
        'transactionid' => 'loyalty-redemption-' . (int) $hold['id'],
        'note' => (int) $hold['points'] . ' loyalty points',
    ]);
    if (!$paymentId) {
        loyalty_bridge_api('POST', '/redemptions/' . (int) $hold['id'] . '/release', ['reason' => 'Perfex did not record the payment'],
            'perfex-redemption-' . (int) $hold['id'] . '-release');
        return ['error' => 'Perfex did not record the payment; the points were given back'];
    }
    loyalty_bridge_api('POST', '/redemptions/' . (int) $hold['id'] . '/capture', ['invoice_id' => (string) $invoiceId],
        'perfex-redemption-' . (int) $hold['id'] . '-capture');
    return ['payment_id' => (int) $paymentId, 'points' => (int) $hold['points'], 'amount' => loyalty_bridge_decimal((string) $hold['amount'])];
}

/** The queue row type of a deleted points payment whose points go back (not an event). */
const LOYALTY_BRIDGE_RETURN_POINTS = 'api.return_points';

/**
 * A payment of the loyalty mode was deleted: its points go back. Queued like an event (so
 * an outage of the plugin loses nothing) and sent through loyalty_bridge_return_points_now.
 */
function loyalty_bridge_return_points(array $payment): void
{
    $redemptionId = loyalty_bridge_payment_redemption($payment);
    if ($redemptionId !== null) {
        loyalty_bridge_queue_and_send('perfex-payment-' . (int) $payment['id'] . '-points-back', [
            'type' => LOYALTY_BRIDGE_RETURN_POINTS,
            'redemption_id' => $redemptionId,
            'payment_id' => (int) $payment['id'],
        ]);
    }
}

/**
 * Release the hold, or, once captured, credit its points back (POST /adjustments); both
 * idempotent on the payment's id. Answers as a delivery would: [200 when done, or the
 * failing status (0 unreachable, 5xx: retried; 4xx: failed), answer, error].
 */
function loyalty_bridge_return_points_now(array $job): array
{
    $redemptionId = (int) $job['redemption_id'];
    $key = 'perfex-payment-' . (int) $job['payment_id'] . '-deleted';
    $reason = 'loyalty points payment ' . (int) $job['payment_id'] . ' deleted in Perfex';
    [$status, $answer, $error] = loyalty_bridge_api('POST', '/redemptions/' . $redemptionId . '/release',
        ['reason' => $reason], $key . '-release');
    if ($status === 200 || $status !== 409) {
        return [$status, $answer, $error];
    }
    [$status, $redemption, $error] = loyalty_bridge_api('GET', '/redemptions/' . $redemptionId);
    if ($status !== 200 || ($redemption['status'] ?? '') !== 'captured') {
        return [$status, $redemption, $error];  // released or expired meanwhile: 200, done
    }
    [$status, $answer, $error] = loyalty_bridge_api('POST', '/adjustments', [
        'customer_id' => (string) $redemption['customer_id'],
        'points' => (int) $redemption['points'],
        'reason' => $reason,
        'staff' => 'perfex',
    ], $key);
    return [in_array($status, [201, 202], true) ? 200 : $status, $answer, $error];
}
