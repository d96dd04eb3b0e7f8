<?php
/**
 * Contract events built from Perfex's own tables. A hook only tells which row changed (an
 * id); everything sent is read back here, so nothing a hook carries (after_client_created
 * carries the contact's password in plain text) is ever forwarded. Every query goes
 * through CodeIgniter's query builder or query bindings: no SQL is built from input.
 */

defined('BASEPATH') or exit('No direct script access allowed');

function loyalty_bridge_db()
{
    return get_instance()->db;
}

/** One row of a Perfex table by its key, as an array, or null. */
function loyalty_bridge_row(string $table, string $key, $id): ?array
{
    $row = loyalty_bridge_db()->where($key, $id)->get(db_prefix() . $table)->row_array();
    return $row ?: null;
}

/** Text cut to a length the contract accepts, or null when empty. */
function loyalty_bridge_text($value, int $length): ?string
{
    $text = trim((string) ($value ?? ''));
    if ($text === '') {
        return null;
    }
    return function_exists('mb_substr') ? mb_substr($text, 0, $length) : substr($text, 0, $length);
}

/** The envelope every event shares. */
function loyalty_bridge_envelope(string $type, array $data): array
{
    $event = ['type' => $type, 'occurred_at' => gmdate('Y-m-d\TH:i:s\Z')];
    $merchant = trim(loyalty_bridge_option('loyalty_bridge_merchant_id'));
    if ($merchant !== '') {
        $event['merchant_id'] = $merchant;
    }
    $event['data'] = $data;
    return $event;
}

// -- customers ------------------------------------------------------------------------------

/** The contract's customer from tblclients, its primary contact, groups and birthday. */
function loyalty_bridge_customer(int $clientId): ?array
{
    $client = loyalty_bridge_row('clients', 'userid', $clientId);
    if ($client === null) {
        return null;
    }
    $contact = loyalty_bridge_db()
        ->where('userid', $clientId)
        ->where('is_primary', 1)
        ->get(db_prefix() . 'contacts')
        ->row_array() ?: [];
    $first = loyalty_bridge_text($contact['firstname'] ?? null, 100)
        ?? loyalty_bridge_text($client['company'] ?? null, 100)
        ?? 'Customer ' . $clientId;
    $customer = ['id' => $clientId, 'first_name' => $first];
    $fields = [
        'last_name' => loyalty_bridge_text($contact['lastname'] ?? null, 100),
        'email' => loyalty_bridge_text($contact['email'] ?? null, 254),
        'phone' => loyalty_bridge_text(($contact['phonenumber'] ?? '') ?: ($client['phonenumber'] ?? ''), 32),
        'date_of_birth' => loyalty_bridge_date_of_birth($clientId),
    ];
    $groups = loyalty_bridge_customer_groups($clientId);
    // Every group (an empty list clears them); group: the first, for older plugins.
    $fields['group'] = $groups[0] ?? null;
    $fields['groups'] = $groups;
    return $customer + array_filter($fields, static fn ($v) => $v !== null);
}

/** The names of the customer's groups, by group id (at most 50, each cut to 64 characters). */
function loyalty_bridge_customer_groups(int $clientId): array
{
    $rows = loyalty_bridge_db()->query(
        'SELECT g.name FROM ' . db_prefix() . 'customer_groups cg'
        . ' JOIN ' . db_prefix() . 'customers_groups g ON g.id = cg.groupid'
        . ' WHERE cg.customer_id = ? ORDER BY g.id LIMIT 50',
        [$clientId]
    )->result_array();
    $names = array_filter(array_map(static fn ($row) => loyalty_bridge_text($row['name'], 64), $rows));
    return array_values(array_unique($names));
}

/** The id of the configured date-of-birth custom field (customers), or null. */
function loyalty_bridge_dob_field_id(): ?int
{
    $slug = trim(loyalty_bridge_option('loyalty_bridge_dob_field'));
    if ($slug === '') {
        return null;
    }
    $field = loyalty_bridge_db()
        ->where('slug', $slug)
        ->where('fieldto', 'customers')
        ->get(db_prefix() . 'customfields')
        ->row_array();
    return $field ? (int) $field['id'] : null;
}

/** The customer's date of birth (YYYY-MM-DD) from the configured custom field, or null. */
function loyalty_bridge_date_of_birth(int $clientId): ?string
{
    $fieldId = loyalty_bridge_dob_field_id();
    if ($fieldId === null) {
        return null;
    }
    $value = loyalty_bridge_db()
        ->where('relid', $clientId)
        ->where('fieldid', $fieldId)
        ->where('fieldto', 'customers')
        ->get(db_prefix() . 'customfieldsvalues')
        ->row_array();
    return loyalty_bridge_valid_date($value['value'] ?? '');
}

function loyalty_bridge_valid_date(string $text): ?string
{
    $text = trim($text);
    if (!preg_match('/^(\d{4})-(\d{2})-(\d{2})$/', $text, $m)) {
        return null;
    }
    return checkdate((int) $m[2], (int) $m[3], (int) $m[1]) ? $text : null;
}

// -- invoices -------------------------------------------------------------------------------

/** The contract's invoice, from tblinvoices, tblcurrencies and its lines in tblitemable. */
function loyalty_bridge_invoice(int $invoiceId): ?array
{
    $invoice = loyalty_bridge_row('invoices', 'id', $invoiceId);
    if ($invoice === null) {
        return null;
    }
    $currency = loyalty_bridge_row('currencies', 'id', (int) $invoice['currency']);
    $number = ($invoice['prefix'] ?? '') . str_pad((string) $invoice['number'], 6, '0', STR_PAD_LEFT);
    return [
        'id' => (int) $invoice['id'],
        'number' => loyalty_bridge_text($number, 64),
        'customer_id' => (int) $invoice['clientid'],
        'currency' => strtoupper(trim($currency['name'] ?? '')),
        'date' => loyalty_bridge_valid_date((string) ($invoice['date'] ?? '')),
        'subtotal' => loyalty_bridge_decimal($invoice['subtotal']),
        'discount_total' => loyalty_bridge_decimal($invoice['discount_total']),
        'tax_total' => loyalty_bridge_decimal($invoice['total_tax']),
        'total' => loyalty_bridge_decimal($invoice['total']),
        'items' => loyalty_bridge_lines('invoice', $invoiceId),
    ];
}

/** The lines (tblitemable) of an invoice or credit note, each matched to a catalogue item. */
function loyalty_bridge_lines(string $relType, int $relId): array
{
    $rows = loyalty_bridge_db()
        ->where('rel_id', $relId)
        ->where('rel_type', $relType)
        ->order_by('item_order', 'ASC')
        ->order_by('id', 'ASC')
        ->get(db_prefix() . 'itemable')
        ->result_array();
    $lines = [];
    foreach ($rows as $row) {
        $total = loyalty_bridge_line_total($row['qty'], $row['rate']);
        if (loyalty_bridge_cents($row['qty']) <= 0 || $total === null || $total[0] === '-') {
            continue;  // the contract takes positive quantities and totals only
        }
        $line = [
            'id' => (int) $row['id'],
            'name' => loyalty_bridge_text($row['description'], 200),
            'qty' => loyalty_bridge_decimal($row['qty']),
            'unit_price' => loyalty_bridge_decimal($row['rate']),
            'total' => $total,
        ];
        $lines[] = $line + loyalty_bridge_catalogue_item((string) $row['description']);
    }
    return $lines;
}

/**
 * product_id and category_id of the catalogue item (tblitems) whose description is the
 * line's, and its group (tblitems_groups). Lines carry no link to the catalogue: a line
 * typed by hand, or an item renamed since, matches nothing (see docs/perfex.md).
 */
function loyalty_bridge_catalogue_item(string $description): array
{
    $description = trim($description);
    if ($description === '') {
        return [];
    }
    $item = loyalty_bridge_db()
        ->where('description', $description)
        ->order_by('id', 'ASC')
        ->limit(1)
        ->get(db_prefix() . 'items')
        ->row_array();
    if (!$item) {
        return [];
    }
    $found = ['product_id' => (int) $item['id']];
    if ((int) ($item['group_id'] ?? 0) > 0) {
        $found['category_id'] = (int) $item['group_id'];
    }
    return $found;
}

/** True when the invoice's status counts as paid under the settings. */
function loyalty_bridge_invoice_is_paid(int $invoiceId): bool
{
    $invoice = loyalty_bridge_row('invoices', 'id', $invoiceId);
    return $invoice !== null && in_array((int) $invoice['status'], loyalty_bridge_paid_statuses(), true);
}

// -- events ---------------------------------------------------------------------------------

/** customer.created or customer.updated for a client. */
function loyalty_bridge_customer_event(string $type, int $clientId): ?array
{
    $customer = loyalty_bridge_customer($clientId);
    return $customer === null ? null : loyalty_bridge_envelope($type, ['customer' => $customer]);
}

/**
 * invoice.paid for an invoice (what points paid taken off, see includes/points.php), naming
 * the payments in money and the credits applied that paid it, so that the plugin knows a
 * payment recorded later (after one of them was deleted) as money paid again.
 */
function loyalty_bridge_paid_event(int $invoiceId): ?array
{
    $invoice = loyalty_bridge_invoice_paid_in_money($invoiceId);
    if ($invoice === null) {
        return null;
    }
    return loyalty_bridge_envelope('invoice.paid', ['invoice' => $invoice, 'payments' => loyalty_bridge_paid_with($invoiceId)]);
}

/** [id, amount] of the invoice's payments in money (not points) and of its credits applied. */
function loyalty_bridge_paid_with(int $invoiceId): array
{
    $paid = [];
    $payments = loyalty_bridge_db()->where('invoiceid', $invoiceId)->order_by('id', 'ASC')
        ->get(db_prefix() . 'invoicepaymentrecords')->result_array();
    foreach ($payments as $payment) {
        if (loyalty_bridge_payment_redemption($payment) === null && loyalty_bridge_cents($payment['amount']) > 0) {
            $paid[] = ['id' => (string) (int) $payment['id'], 'amount' => loyalty_bridge_decimal($payment['amount'])];
        }
    }
    $credits = loyalty_bridge_db()->where('invoice_id', $invoiceId)->order_by('id', 'ASC')
        ->get(db_prefix() . 'credits')->result_array();
    foreach ($credits as $credit) {
        if (loyalty_bridge_cents($credit['amount']) > 0) {
            $paid[] = ['id' => 'credit-' . (int) $credit['id'], 'amount' => loyalty_bridge_decimal($credit['amount'])];
        }
    }
    return $paid;
}

/** invoice.payment_recorded for an amount of a payment (a payment id of ours: see handlers). */
function loyalty_bridge_payment_event(int $invoiceId, string $paymentId, string $amount, ?string $date): ?array
{
    $invoice = loyalty_bridge_invoice_paid_in_money($invoiceId);
    if ($invoice === null) {
        return null;
    }
    $payment = ['id' => $paymentId, 'amount' => $amount];
    if ($date !== null && ($day = loyalty_bridge_valid_date(substr($date, 0, 10))) !== null) {
        $payment['date'] = $day;
    }
    return loyalty_bridge_envelope('invoice.payment_recorded', ['invoice' => $invoice, 'payment' => $payment]);
}

/** invoice.refunded of an amount, by line when $items ([line_id, qty]) are given. */
function loyalty_bridge_refund_event(int $invoiceId, string $refundId, string $amount, array $items = []): array
{
    $refund = ['id' => $refundId, 'amount' => $amount];
    if ($items) {
        $refund['items'] = $items;
    }
    return loyalty_bridge_envelope('invoice.refunded', ['invoice_id' => $invoiceId, 'refund' => $refund]);
}

/** invoice.refund_reversed: the refund $refundId (our id, as sent) was undone in Perfex (#16). */
function loyalty_bridge_refund_reversed_event(int $invoiceId, string $refundId): array
{
    return loyalty_bridge_envelope('invoice.refund_reversed', ['invoice_id' => $invoiceId, 'refund_id' => $refundId]);
}

function loyalty_bridge_cancel_event(int $invoiceId): array
{
    return loyalty_bridge_envelope('invoice.cancelled', ['invoice_id' => $invoiceId]);
}

/** invoice.reinstated: a cancelled invoice is live again (added to the contract by #16). */
function loyalty_bridge_reinstate_event(int $invoiceId): array
{
    return loyalty_bridge_envelope('invoice.reinstated', ['invoice_id' => $invoiceId]);
}

function loyalty_bridge_birthday_event(int $clientId, string $date): array
{
    return loyalty_bridge_envelope('customer.birthday', ['customer_id' => $clientId, 'date' => $date]);
}

/**
 * invoice.refunded for one application of a credit note to an invoice (a tblcredits row).
 * By line when the whole credit note is applied and each of its lines matches an invoice
 * line by description (the quantity capped at the invoice line's); by amount otherwise.
 */
function loyalty_bridge_credit_event(array $credit): ?array
{
    $invoiceId = (int) $credit['invoice_id'];
    $creditNote = loyalty_bridge_row('creditnotes', 'id', (int) $credit['credit_id']);
    if ($creditNote === null || loyalty_bridge_cents($credit['amount']) <= 0) {
        return null;
    }
    $items = [];
    if (loyalty_bridge_cents($credit['amount']) === loyalty_bridge_cents($creditNote['total'])) {
        $items = loyalty_bridge_matching_lines((int) $creditNote['id'], $invoiceId);
    }
    return loyalty_bridge_refund_event(
        $invoiceId,
        'credit-' . (int) $credit['id'],
        loyalty_bridge_decimal($credit['amount']),
        $items
    );
}

/** [line_id, qty] of the invoice lines the credit note's lines name, or [] if one does not match. */
function loyalty_bridge_matching_lines(int $creditNoteId, int $invoiceId): array
{
    $invoiceLines = loyalty_bridge_db()
        ->where('rel_id', $invoiceId)->where('rel_type', 'invoice')->order_by('id', 'ASC')
        ->get(db_prefix() . 'itemable')->result_array();
    $creditLines = loyalty_bridge_db()
        ->where('rel_id', $creditNoteId)->where('rel_type', 'credit_note')->order_by('id', 'ASC')
        ->get(db_prefix() . 'itemable')->result_array();
    $items = [];
    $used = [];
    foreach ($creditLines as $creditLine) {
        $match = null;
        foreach ($invoiceLines as $invoiceLine) {
            $same = trim((string) $invoiceLine['description']) === trim((string) $creditLine['description']);
            if ($same && !isset($used[$invoiceLine['id']])) {
                $match = $invoiceLine;
                break;
            }
        }
        if ($match === null) {
            return [];
        }
        $used[$match['id']] = true;
        $qty = min(loyalty_bridge_cents($creditLine['qty']), loyalty_bridge_cents($match['qty']));
        if ($qty <= 0) {
            return [];
        }
        $items[] = ['line_id' => (int) $match['id'], 'qty' => loyalty_bridge_money($qty)];
    }
    return $items;
}
