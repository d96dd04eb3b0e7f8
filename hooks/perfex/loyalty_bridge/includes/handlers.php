<?php
/**
 * What each Perfex hook does: read the changed rows back, queue the contract events under
 * webhook ids that name their business fact (a hook fired twice queues nothing new), and
 * try to send them at once. A handler never throws into Perfex: a failure is logged and
 * the queue keeps the event.
 */

defined('BASEPATH') or exit('No direct script access allowed');

/** Run a handler's work; an error is logged, never thrown into Perfex's request. */
function loyalty_bridge_guard(callable $work): void
{
    try {
        $work();
    } catch (Throwable $error) {
        loyalty_bridge_log('loyalty_bridge: ' . $error->getMessage());
    }
}

function loyalty_bridge_log(string $message): void
{
    if (function_exists('log_message')) {
        log_message('error', $message);
    }
}

/** Queue an event (if the fact is new) and try to send what this request queued. */
function loyalty_bridge_queue_and_send(string $webhookId, ?array $event): void
{
    if ($event === null || !loyalty_bridge_enqueue($webhookId, $event)) {
        return;
    }
    $row = loyalty_bridge_queued_row($webhookId);
    static $unreachable = false;  // once the plugin did not answer, leave the rest to cron
    if ($row !== null && !$unreachable) {
        $before = time();
        loyalty_bridge_drain(1, [(int) $row['id']]);
        $after = loyalty_bridge_queued_row($webhookId);
        $unreachable = $after !== null && $after['status'] === 'pending' && (int) $after['last_status'] === 0
            && (int) $after['attempts'] > 0;
        $unreachable = $unreachable || time() - $before >= LOYALTY_BRIDGE_TIMEOUT;
    }
}

/** The id a hook passes, whether it passes the id or an array holding it. */
function loyalty_bridge_hook_id($argument, string $key): int
{
    if (is_array($argument)) {
        return (int) ($argument[$key] ?? 0);
    }
    return (int) $argument;
}

// -- customers ------------------------------------------------------------------------------

/** after_client_created: ['id' => ..., 'data' => ..., 'contact_data' => ...] (read: the id only). */
function loyalty_bridge_client_created($args): void
{
    loyalty_bridge_guard(static function () use ($args) {
        $id = loyalty_bridge_hook_id($args, 'id');
        loyalty_bridge_queue_and_send(
            'perfex-client-' . $id . '-created',
            loyalty_bridge_customer_event('customer.created', $id)
        );
    });
}

/**
 * client_updated: ['id' => ...]. Queued only when the profile read back differs from the
 * one last queued for this customer, so a hook fired twice for one save (in the same
 * second or not) queues one event, and a later change back to an earlier profile is
 * still sent. The webhook id holds the second and the profile's fingerprint.
 */
function loyalty_bridge_client_updated($args): void
{
    loyalty_bridge_guard(static function () use ($args) {
        $id = loyalty_bridge_hook_id($args, 'id');
        $event = loyalty_bridge_customer_event('customer.updated', $id);
        if ($event === null) {
            return;
        }
        $print = substr(sha1(json_encode($event['data'])), 0, 12);
        $prefix = 'perfex-client-' . $id . '-updated-';
        if (str_ends_with(loyalty_bridge_last_queued_id($prefix) ?? '', '-' . $print)) {
            return;  // the same profile as last sent: a re-fired hook
        }
        loyalty_bridge_queue_and_send('perfex-client-' . $id . '-updated-' . gmdate('YmdHis') . '-' . $print, $event);
    });
}

// -- payments -------------------------------------------------------------------------------

/**
 * after_payment_added: the payment id, after Perfex recomputed the invoice's status.
 * invoice.payment_recorded when each payment is sent, or when the invoice was sent as paid
 * already (a payment recorded again after one was deleted: the plugin gives back what the
 * deletion took); invoice.paid when the invoice now counts as paid (once per invoice).
 */
function loyalty_bridge_payment_added($paymentId): void
{
    loyalty_bridge_guard(static function () use ($paymentId) {
        $payment = loyalty_bridge_row('invoicepaymentrecords', 'id', (int) $paymentId);
        if ($payment === null) {
            return;
        }
        $invoiceId = (int) $payment['invoiceid'];
        $inMoney = loyalty_bridge_payment_redemption($payment) === null;  // points do not earn points
        if ($inMoney && loyalty_bridge_sends_payments($invoiceId)
            && !loyalty_bridge_paid_with_named($invoiceId, (string) (int) $payment['id'])) {
            loyalty_bridge_queue_and_send(
                'perfex-payment-' . (int) $payment['id'],
                loyalty_bridge_payment_event(
                    $invoiceId,
                    (string) (int) $payment['id'],
                    loyalty_bridge_decimal($payment['amount']),
                    $payment['date'] ?? null
                )
            );
        }
        loyalty_bridge_send_paid_if_paid($invoiceId);
    });
}

/** True when a payment of the invoice is sent: each payment is, or the invoice was sent as paid. */
function loyalty_bridge_sends_payments(int $invoiceId): bool
{
    return loyalty_bridge_option('loyalty_bridge_each_payment') === '1'
        || loyalty_bridge_queued('perfex-invoice-' . $invoiceId . '-paid');
}

function loyalty_bridge_send_paid_if_paid(int $invoiceId): void
{
    if (loyalty_bridge_invoice_is_paid($invoiceId)) {
        loyalty_bridge_queue_and_send('perfex-invoice-' . $invoiceId . '-paid', loyalty_bridge_paid_event($invoiceId));
    }
}

/**
 * True when the plugin was told of this payment's money: the invoice was sent as paid, or
 * the payment itself was sent. Only then does a smaller or deleted payment take points back.
 */
function loyalty_bridge_payment_was_counted(int $invoiceId, int $paymentId): bool
{
    return loyalty_bridge_queued('perfex-invoice-' . $invoiceId . '-paid')
        || loyalty_bridge_queued('perfex-payment-' . $paymentId);
}

/**
 * after_payment_updated: ['id' => ..., 'payment' => the row before]. A smaller amount sends
 * a refund of the difference; a larger one, a payment of the difference (when each
 * payment is sent), then invoice.paid if the invoice is now paid.
 */
function loyalty_bridge_payment_updated($args): void
{
    loyalty_bridge_guard(static function () use ($args) {
        $paymentId = loyalty_bridge_hook_id($args, 'id');
        $before = (array) ($args['payment'] ?? []);
        $payment = loyalty_bridge_row('invoicepaymentrecords', 'id', $paymentId);
        if ($payment === null || !isset($before['amount']) || loyalty_bridge_payment_redemption($payment) !== null) {
            return;  // a points payment's amount is its hold's: changing it changes no points
        }
        $invoiceId = (int) $payment['invoiceid'];
        $old = loyalty_bridge_cents((string) $before['amount']);
        $new = loyalty_bridge_cents($payment['amount']);
        $fact = 'perfex-payment-' . $paymentId . '-changed-' . $old . '-' . $new;
        if ($new < $old && loyalty_bridge_payment_was_counted($invoiceId, $paymentId)) {
            loyalty_bridge_queue_and_send($fact, loyalty_bridge_refund_event(
                $invoiceId,
                'payment-' . $paymentId . '-changed-' . $old . '-' . $new,
                loyalty_bridge_money($old - $new)
            ));
        } elseif ($new > $old && loyalty_bridge_sends_payments($invoiceId)) {
            loyalty_bridge_queue_and_send($fact, loyalty_bridge_payment_event(
                $invoiceId,
                $paymentId . '-changed-' . $old . '-' . $new,
                loyalty_bridge_money($new - $old),
                $payment['date'] ?? null
            ));
        }
        loyalty_bridge_send_paid_if_paid($invoiceId);
    });
}

/** Payments about to be deleted, read while their row exists (before_payment_deleted). */
function loyalty_bridge_deleted_payments(?array $remember = null): array
{
    static $payments = [];
    if ($remember !== null) {
        $payments[(int) $remember['id']] = $remember;
    }
    return $payments;
}

/** before_payment_deleted: ['paymentid' => ..., 'invoiceid' => ...]; remember the row. */
function loyalty_bridge_payment_deleting($args): void
{
    loyalty_bridge_guard(static function () use ($args) {
        $payment = loyalty_bridge_row('invoicepaymentrecords', 'id', loyalty_bridge_hook_id($args, 'paymentid'));
        if ($payment !== null) {
            loyalty_bridge_deleted_payments($payment);
        }
    });
}

/**
 * after_payment_deleted: ['paymentid' => ..., 'invoiceid' => ...]. When the plugin counted
 * the payment's money, invoice.refunded of its amount takes its share of the points back.
 */
function loyalty_bridge_payment_deleted($args): void
{
    loyalty_bridge_guard(static function () use ($args) {
        $paymentId = loyalty_bridge_hook_id($args, 'paymentid');
        $payment = loyalty_bridge_deleted_payments()[$paymentId] ?? null;
        if ($payment === null) {
            loyalty_bridge_log('loyalty_bridge: payment ' . $paymentId . ' deleted before it was read');
            return;
        }
        $invoiceId = (int) $payment['invoiceid'];
        if (loyalty_bridge_payment_redemption($payment) !== null) {
            loyalty_bridge_return_points($payment);
            return;
        }
        if (!loyalty_bridge_payment_was_counted($invoiceId, $paymentId)) {
            return;  // the plugin never counted it: nothing to take back
        }
        loyalty_bridge_queue_and_send('perfex-payment-' . $paymentId . '-deleted', loyalty_bridge_refund_event(
            $invoiceId,
            'payment-' . $paymentId . '-deleted',
            loyalty_bridge_decimal($payment['amount'])
        ));
    });
}

// -- cancellations and credit notes ---------------------------------------------------------

/**
 * invoice_marked_as_cancelled: the invoice id. The n-th cancellation of an invoice is
 * queued as perfex-invoice-{id}-cancelled (the first) or -cancelled-{n}; fired again
 * before a reinstatement, the hook names the same cancellation and queues nothing.
 */
function loyalty_bridge_invoice_cancelled($invoiceId): void
{
    loyalty_bridge_guard(static function () use ($invoiceId) {
        $id = (int) $invoiceId;
        if (loyalty_bridge_row('invoices', 'id', $id) === null) {
            return;
        }
        [$cancelled, $reinstated] = loyalty_bridge_cancel_cycles($id);
        $n = $cancelled > $reinstated ? $cancelled : $cancelled + 1;
        $webhookId = 'perfex-invoice-' . $id . '-cancelled' . ($n > 1 ? '-' . $n : '');
        loyalty_bridge_queue_and_send($webhookId, loyalty_bridge_cancel_event($id));
    });
}

/**
 * invoice_unmarked_as_cancelled: the invoice id; the invoice is live again. Sent once per
 * cancellation, as perfex-invoice-{id}-reinstated-{n}, only when the invoice's row says it
 * is no longer cancelled and the module sent its n-th cancellation: a fired-again hook, or
 * one for an invoice the module never cancelled, queues nothing.
 */
function loyalty_bridge_invoice_reinstated($invoiceId): void
{
    loyalty_bridge_guard(static function () use ($invoiceId) {
        $id = (int) $invoiceId;
        $invoice = loyalty_bridge_row('invoices', 'id', $id);
        if ($invoice === null || (int) $invoice['status'] === 5) {  // 5: cancelled
            return;
        }
        [$cancelled, $reinstated] = loyalty_bridge_cancel_cycles($id);
        if ($cancelled > $reinstated) {
            loyalty_bridge_queue_and_send(
                'perfex-invoice-' . $id . '-reinstated-' . $cancelled,
                loyalty_bridge_reinstate_event($id)
            );
        }
    });
}

/** How many cancellations and reinstatements of the invoice the module has queued. */
function loyalty_bridge_cancel_cycles(int $invoiceId): array
{
    $count = static fn (string $prefix): int => count(
        loyalty_bridge_db()->like('webhook_id', $prefix, 'after')
            ->get(loyalty_bridge_queue_table())->result_array()
    );
    $prefix = 'perfex-invoice-' . $invoiceId . '-';
    return [$count($prefix . 'cancelled'), $count($prefix . 'reinstated-')];
}

/**
 * credits_applied: ['data' => ..., 'credit_note_id' => ...]. Every application of that
 * credit note (tblcredits) becomes one refund, once: a fired-again hook sends nothing new.
 * When the credit completes the invoice's payment, invoice.paid follows: the invoice earns
 * on its total and the refund takes the credited share back, so only the money earns.
 */
function loyalty_bridge_credits_applied($args): void
{
    loyalty_bridge_guard(static function () use ($args) {
        $creditNoteId = loyalty_bridge_hook_id($args, 'credit_note_id');
        $credits = loyalty_bridge_db()->where('credit_id', $creditNoteId)->order_by('id', 'ASC')
            ->get(db_prefix() . 'credits')->result_array();
        foreach ($credits as $credit) {
            loyalty_bridge_queue_and_send('perfex-credit-' . (int) $credit['id'], loyalty_bridge_credit_event($credit));
            // A credit can be what completes an invoice paid partly in money: it is paid now.
            loyalty_bridge_send_paid_if_paid((int) $credit['invoice_id']);
        }
    });
}

/**
 * created_credit_note_from_invoice: ['invoice_id' => ..., 'credit_note_id' => ...]. Perfex's
 * tables do not say which invoice a credit note came from, so the module remembers it (an
 * option, not autoloaded) for the credit note's refunds in money.
 */
function loyalty_bridge_credit_note_from_invoice($args): void
{
    loyalty_bridge_guard(static function () use ($args) {
        $creditNoteId = loyalty_bridge_hook_id($args, 'credit_note_id');
        $invoiceId = loyalty_bridge_hook_id($args, 'invoice_id');
        if (loyalty_bridge_row('creditnotes', 'id', $creditNoteId) !== null && loyalty_bridge_row('invoices', 'id', $invoiceId) !== null) {
            add_option('loyalty_bridge_credit_note_' . $creditNoteId . '_invoice', (string) $invoiceId, 0);
        }
    });
}

/**
 * credit_note_refund_created: ['data' => ..., 'credit_note_id' => ...]. Each refund in money
 * (tblcreditnote_refunds) of a credit note made from an invoice becomes invoice.refunded of
 * its amount on that invoice, once.
 */
function loyalty_bridge_credit_note_refunded($args): void
{
    loyalty_bridge_guard(static function () use ($args) {
        $creditNoteId = loyalty_bridge_hook_id($args, 'credit_note_id');
        $invoiceId = (int) get_option('loyalty_bridge_credit_note_' . $creditNoteId . '_invoice');
        if ($invoiceId <= 0) {
            return;  // not made from an invoice: no invoice's points to take back
        }
        $refunds = loyalty_bridge_db()->where('credit_note_id', $creditNoteId)->order_by('id', 'ASC')
            ->get(db_prefix() . 'creditnote_refunds')->result_array();
        foreach ($refunds as $refund) {
            if (loyalty_bridge_cents($refund['amount']) > 0) {
                loyalty_bridge_queue_and_send('perfex-credit-note-refund-' . (int) $refund['id'], loyalty_bridge_refund_event(
                    $invoiceId,
                    'credit-note-refund-' . (int) $refund['id'],
                    loyalty_bridge_decimal($refund['amount'])
                ));
            }
        }
    });
}

/**
 * credit_note_refund_deleted: ['refund_id' => ..., 'credit_note_id' => ...], after the row is
 * gone. A refund the module sent is undone: invoice.refund_reversed gives its points back.
 */
function loyalty_bridge_credit_note_refund_deleted($args): void
{
    loyalty_bridge_guard(static function () use ($args) {
        loyalty_bridge_reverse_sent_refund('perfex-credit-note-refund-' . loyalty_bridge_hook_id($args, 'refund_id'));
    });
}

/**
 * A credit taken off an invoice (Perfex's delete_applied_credit fires no hook of its own)
 * or a credit note deleted with its credits and refunds: every credit or refund in money the
 * module sent whose row is gone is undone, once. Run from invoice_status_changed (taking a
 * credit off recomputes the invoice's status), after_credit_note_deleted and the cron.
 */
function loyalty_bridge_sweep_deleted_credits($args = null): void
{
    loyalty_bridge_guard(static function () {
        $sent = loyalty_bridge_db()->like('webhook_id', 'perfex-credit-', 'after')->order_by('id', 'ASC')
            ->get(loyalty_bridge_queue_table())->result_array();
        foreach (array_column($sent, 'webhook_id') as $webhookId) {
            if (preg_match('/^perfex-credit-(\d+)$/', $webhookId, $m)) {
                $gone = loyalty_bridge_row('credits', 'id', (int) $m[1]) === null;
            } elseif (preg_match('/^perfex-credit-note-refund-(\d+)$/', $webhookId, $m)) {
                $gone = loyalty_bridge_row('creditnote_refunds', 'id', (int) $m[1]) === null;
            } else {
                continue;  // a reversal or a deletion the module queued
            }
            if ($gone) {
                loyalty_bridge_reverse_sent_refund($webhookId);
            }
        }
    });
}

/**
 * Undo the refund queued as $webhookId (once, as $webhookId-reversed). A credit applied is a
 * payment that earns nothing: when the invoice was sent as paid with it, taking it off also
 * sends a refund of its amount ($webhookId-deleted), as for a deleted payment, so that the
 * invoice keeps what its money still pays, and money paid later earns again.
 */
function loyalty_bridge_reverse_sent_refund(string $webhookId): void
{
    $sent = loyalty_bridge_queued_row($webhookId);
    if ($sent === null || loyalty_bridge_queued($webhookId . '-reversed')) {
        return;
    }
    $data = json_decode((string) $sent['body'], true)['data'] ?? [];
    $invoiceId = (int) ($data['invoice_id'] ?? 0);
    $refundId = (string) ($data['refund']['id'] ?? '');
    if ($invoiceId <= 0 || $refundId === '') {
        return;
    }
    if (preg_match('/^credit-\d+$/', $refundId) && loyalty_bridge_paid_with_named($invoiceId, $refundId)) {
        loyalty_bridge_queue_and_send($webhookId . '-deleted', loyalty_bridge_refund_event(
            $invoiceId,
            $refundId . '-deleted',
            (string) $data['refund']['amount']
        ));
    }
    loyalty_bridge_queue_and_send($webhookId . '-reversed', loyalty_bridge_refund_reversed_event($invoiceId, $refundId));
}

/** True when the invoice.paid the module queued for the invoice named $paymentId among its payments. */
function loyalty_bridge_paid_with_named(int $invoiceId, string $paymentId): bool
{
    $paid = loyalty_bridge_queued_row('perfex-invoice-' . $invoiceId . '-paid');
    $payments = $paid === null ? [] : (json_decode((string) $paid['body'], true)['data']['payments'] ?? []);
    return in_array($paymentId, array_column($payments, 'id'), true);
}

// -- cron -----------------------------------------------------------------------------------

/** after_cron_run: the birthday sweep (when the module gives birthdays), then the queue. */
function loyalty_bridge_cron($manually = false): void
{
    loyalty_bridge_guard(static function () {
        if (loyalty_bridge_option('loyalty_bridge_birthdays') === 'module') {
            loyalty_bridge_birthdays(date('Y-m-d'));
        }
        loyalty_bridge_sweep_deleted_credits();
        loyalty_bridge_drain(100);
    });
}

/**
 * Queue customer.birthday for every customer whose date of birth (the configured custom
 * field) falls on $today; once per customer and year. Born on 29 February: 28 February in
 * other years.
 */
function loyalty_bridge_birthdays(string $today): int
{
    $fieldId = loyalty_bridge_dob_field_id();
    if ($fieldId === null) {
        return 0;
    }
    [$year, $month, $day] = array_map('intval', explode('-', $today));
    $days = ['-' . sprintf('%02d-%02d', $month, $day)];
    if ($month === 2 && $day === 28 && !checkdate(2, 29, $year)) {
        $days[] = '-02-29';
    }
    $rows = [];
    foreach ($days as $suffix) {
        $rows = array_merge($rows, loyalty_bridge_db()
            ->where('fieldid', $fieldId)
            ->where('fieldto', 'customers')
            ->like('value', $suffix, 'before')
            ->get(db_prefix() . 'customfieldsvalues')
            ->result_array());
    }
    $queued = 0;
    foreach ($rows as $row) {
        $clientId = (int) $row['relid'];
        if (loyalty_bridge_valid_date((string) $row['value']) === null
            || loyalty_bridge_row('clients', 'userid', $clientId) === null) {
            continue;
        }
        $event = loyalty_bridge_birthday_event($clientId, $today);
        if (loyalty_bridge_enqueue('perfex-client-' . $clientId . '-birthday-' . $year, $event)) {
            $queued++;
        }
    }
    return $queued;
}

/** admin_init: sites without cron still deliver, a few rows at most once a minute. */
function loyalty_bridge_admin_drain(): void
{
    loyalty_bridge_guard(static function () {
        $last = (int) loyalty_bridge_option('loyalty_bridge_last_drain');
        if (time() - $last < 60) {
            return;
        }
        update_option('loyalty_bridge_last_drain', (string) time());
        loyalty_bridge_drain(3);
    });
}
