<?php
/**
 * What Perfex's models do around each hook the module listens to, reduced to the rows
 * they write and the hook they fire with its real arguments (Clients_model::add,
 * Payments_model::add/update/delete, Invoices_model::mark_as_cancelled,
 * Credit_notes_model::apply_credits). Test data only; the stand-in proper is bootstrap.php.
 */

declare(strict_types=1);

function perfex_db(): StandInDb
{
    return get_instance()->db;
}

function perfex_insert(string $table, array $row): int
{
    perfex_db()->insert('tbl' . $table, $row);
    return perfex_db()->insert_id();
}

/** A currency row; returns its id. */
function perfex_currency(string $code = 'EUR'): int
{
    return perfex_insert('currencies', ['symbol' => '€', 'name' => $code, 'isdefault' => 1]);
}

/** Clients_model::add: the client, its primary contact (with a password), the hook. */
function perfex_add_client(string $first, string $last, string $email, array $extra = []): int
{
    $id = perfex_insert('clients', ['company' => $extra['company'] ?? '', 'phonenumber' => $extra['phone'] ?? '',
        'datecreated' => date('Y-m-d H:i:s')]);
    perfex_insert('contacts', ['userid' => $id, 'is_primary' => 1, 'firstname' => $first, 'lastname' => $last,
        'email' => $email, 'phonenumber' => $extra['phone'] ?? '', 'datecreated' => date('Y-m-d H:i:s'),
        'password' => password_hash('secret-password', PASSWORD_BCRYPT)]);
    if (isset($extra['group'])) {
        $group = perfex_insert('customers_groups', ['name' => $extra['group']]);
        perfex_insert('customer_groups', ['groupid' => $group, 'customer_id' => $id]);
    }
    if (isset($extra['birthday'])) {
        perfex_set_birthday($id, $extra['birthday']);
    }
    hooks()->do_action('after_client_created', [
        'id' => $id,
        'data' => ['company' => $extra['company'] ?? ''],
        'contact_data' => ['firstname' => $first, 'email' => $email, 'password' => 'secret-password'],
        'with_contact' => true,
    ]);
    return $id;
}

/** Put a customer in one more group (tblcustomers_groups, tblcustomer_groups), no hook. */
function perfex_add_customer_group(int $clientId, string $name): void
{
    $group = perfex_insert('customers_groups', ['name' => $name]);
    perfex_insert('customer_groups', ['groupid' => $group, 'customer_id' => $clientId]);
}

/** The "Date of birth" custom field (customers, slug customers_date_of_birth). */
function perfex_birthday_field(): int
{
    $row = perfex_db()->where('slug', 'customers_date_of_birth')->get('tblcustomfields')->row_array();
    return $row ? (int) $row['id'] : perfex_insert('customfields', [
        'fieldto' => 'customers', 'name' => 'Date of birth', 'slug' => 'customers_date_of_birth', 'type' => 'date_picker',
    ]);
}

function perfex_set_birthday(int $clientId, string $date): void
{
    perfex_insert('customfieldsvalues', ['relid' => $clientId, 'fieldid' => perfex_birthday_field(),
        'fieldto' => 'customers', 'value' => $date]);
}

/** An invoice (status 1, unpaid) with lines [description, qty, rate]; total = subtotal + tax. */
function perfex_add_invoice(int $clientId, int $currency, array $lines, string $tax = '0.00'): int
{
    $subtotal = 0;
    foreach ($lines as [$description, $qty, $rate]) {
        $subtotal += intdiv(loyalty_bridge_cents($qty) * loyalty_bridge_cents($rate), 100);
    }
    $id = perfex_insert('invoices', [
        'clientid' => $clientId, 'number' => 1000 + count(perfex_db()->get('tblinvoices')->result_array()),
        'prefix' => 'INV-', 'datecreated' => date('Y-m-d H:i:s'), 'date' => date('Y-m-d'), 'currency' => $currency,
        'subtotal' => loyalty_bridge_money($subtotal), 'total_tax' => $tax,
        'total' => loyalty_bridge_money($subtotal + loyalty_bridge_cents($tax)), 'status' => 1,
    ]);
    foreach (array_values($lines) as $order => [$description, $qty, $rate]) {
        perfex_insert('itemable', ['rel_id' => $id, 'rel_type' => 'invoice', 'description' => $description,
            'qty' => $qty, 'rate' => $rate, 'item_order' => $order + 1]);
    }
    return $id;
}

/** A catalogue item in a group (tblitems, tblitems_groups). */
function perfex_catalogue_item(string $description, string $rate, string $group): int
{
    $groupId = perfex_insert('items_groups', ['name' => $group]);
    return perfex_insert('items', ['description' => $description, 'rate' => $rate, 'group_id' => $groupId]);
}

/**
 * update_invoice_status(): paid, partially paid or unpaid from payments and credits; when
 * the status changes, invoice_status_changed(['invoice_id', 'status']) as Perfex fires it.
 */
function perfex_update_invoice_status(int $invoiceId): void
{
    $invoice = perfex_db()->where('id', $invoiceId)->get('tblinvoices')->row_array();
    if ((int) $invoice['status'] === 5) {
        return;
    }
    $paid = 0;
    foreach (perfex_db()->where('invoiceid', $invoiceId)->get('tblinvoicepaymentrecords')->result_array() as $p) {
        $paid += loyalty_bridge_cents($p['amount']);
    }
    foreach (perfex_db()->where('invoice_id', $invoiceId)->get('tblcredits')->result_array() as $c) {
        $paid += loyalty_bridge_cents($c['amount']);
    }
    $status = $paid >= loyalty_bridge_cents($invoice['total']) ? 2 : ($paid > 0 ? 3 : 1);
    perfex_db()->where('id', $invoiceId)->update('tblinvoices', ['status' => $status]);
    if ($status !== (int) $invoice['status']) {
        hooks()->do_action('invoice_status_changed', ['invoice_id' => $invoiceId, 'status' => $status]);
    }
}

/** Payments_model::add: the row, the invoice's status, then after_payment_added(id). */
function perfex_add_payment(int $invoiceId, string $amount, string $mode = 'stripe', array $extra = []): int
{
    $id = perfex_insert('invoicepaymentrecords', ['invoiceid' => $invoiceId, 'amount' => $amount,
        'paymentmode' => $mode, 'date' => date('Y-m-d'), 'daterecorded' => date('Y-m-d H:i:s')] + $extra);
    perfex_update_invoice_status($invoiceId);
    hooks()->do_action('after_payment_added', $id);
    return $id;
}

/** Payments_model::update: the new amount, then after_payment_updated with the old row. */
function perfex_update_payment(int $paymentId, string $amount): void
{
    $before = (object) perfex_db()->where('id', $paymentId)->get('tblinvoicepaymentrecords')->row_array();
    perfex_db()->where('id', $paymentId)->update('tblinvoicepaymentrecords', ['amount' => $amount]);
    $updated = true;
    perfex_update_invoice_status((int) $before->invoiceid);
    hooks()->do_action('after_payment_updated', ['id' => $paymentId, 'data' => ['amount' => $amount],
        'payment' => $before, 'updated' => &$updated]);
}

/** Payments_model::delete: before_payment_deleted, the delete, the status, after_payment_deleted. */
function perfex_delete_payment(int $paymentId): void
{
    $payment = perfex_db()->where('id', $paymentId)->get('tblinvoicepaymentrecords')->row_array();
    $args = ['paymentid' => $paymentId, 'invoiceid' => (int) $payment['invoiceid']];
    hooks()->do_action('before_payment_deleted', $args);
    perfex_db()->where('id', $paymentId)->delete('tblinvoicepaymentrecords');
    perfex_update_invoice_status((int) $payment['invoiceid']);
    hooks()->do_action('after_payment_deleted', $args);
}

/** Invoices_model::mark_as_cancelled. */
function perfex_cancel_invoice(int $invoiceId): void
{
    perfex_db()->where('id', $invoiceId)->update('tblinvoices', ['status' => 5, 'sent' => 1]);
    hooks()->do_action('invoice_marked_as_cancelled', $invoiceId);
}

/**
 * Invoices_model::unmark_as_cancelled: status back to unpaid, then recomputed from its
 * payments (Perfex fires no hook before 3.1).
 */
function perfex_uncancel_invoice(int $invoiceId): void
{
    perfex_db()->where('id', $invoiceId)->update('tblinvoices', ['status' => 1]);
    perfex_update_invoice_status($invoiceId);
    hooks()->do_action('invoice_unmarked_as_cancelled', $invoiceId);
}

/** A credit note with lines [description, qty, rate]. */
function perfex_add_credit_note(int $clientId, int $currency, array $lines): int
{
    $total = 0;
    foreach ($lines as [$description, $qty, $rate]) {
        $total += intdiv(loyalty_bridge_cents($qty) * loyalty_bridge_cents($rate), 100);
    }
    $id = perfex_insert('creditnotes', ['clientid' => $clientId, 'number' => 1, 'prefix' => 'CN-',
        'datecreated' => date('Y-m-d H:i:s'), 'date' => date('Y-m-d'), 'currency' => $currency,
        'subtotal' => loyalty_bridge_money($total), 'total' => loyalty_bridge_money($total), 'status' => 1]);
    foreach ($lines as $order => [$description, $qty, $rate]) {
        perfex_insert('itemable', ['rel_id' => $id, 'rel_type' => 'credit_note', 'description' => $description,
            'qty' => $qty, 'rate' => $rate, 'item_order' => $order + 1]);
    }
    return $id;
}

/** Credit_notes_model::credit_note_from_invoice: the credit note, then its hook. */
function perfex_credit_note_from_invoice(int $invoiceId, int $currency, array $lines): int
{
    $invoice = perfex_db()->where('id', $invoiceId)->get('tblinvoices')->row_array();
    $id = perfex_add_credit_note((int) $invoice['clientid'], $currency, $lines);
    hooks()->do_action('created_credit_note_from_invoice', ['invoice_id' => $invoiceId, 'credit_note_id' => $id]);
    return $id;
}

/** Credit_notes_model::create_refund: a tblcreditnote_refunds row, then credit_note_refund_created. */
function perfex_refund_credit_note(int $creditNoteId, string $amount): int
{
    $data = ['staff_id' => 1, 'refunded_on' => date('Y-m-d'), 'payment_mode' => 'stripe', 'amount' => $amount, 'note' => ''];
    $id = perfex_insert('creditnote_refunds', $data + ['credit_note_id' => $creditNoteId, 'created_at' => date('Y-m-d H:i:s')]);
    hooks()->do_action('credit_note_refund_created', ['data' => $data, 'credit_note_id' => $creditNoteId]);
    return $id;
}

/** Credit_notes_model::apply_credits: a tblcredits row, the status, credits_applied. */
function perfex_apply_credit(int $creditNoteId, int $invoiceId, string $amount): int
{
    $data = ['invoice_id' => $invoiceId, 'amount' => $amount];
    $id = perfex_insert('credits', $data + ['credit_id' => $creditNoteId, 'staff_id' => 1, 'date' => date('Y-m-d'),
        'date_applied' => date('Y-m-d H:i:s')]);
    perfex_update_invoice_status($invoiceId);
    hooks()->do_action('credits_applied', ['data' => $data, 'credit_note_id' => $creditNoteId]);
    return $id;
}

/** Credit_notes_model::delete_refund: the row, then credit_note_refund_deleted. */
function perfex_delete_credit_note_refund(int $refundId, int $creditNoteId): void
{
    perfex_db()->where('id', $refundId)->delete('tblcreditnote_refunds');
    hooks()->do_action('credit_note_refund_deleted', ['refund_id' => $refundId, 'credit_note_id' => $creditNoteId]);
}

/** Credit_notes_model::delete_applied_credit: the row, then the invoice's status (no hook of its own). */
function perfex_delete_applied_credit(int $creditId, int $invoiceId): void
{
    perfex_db()->where('id', $creditId)->delete('tblcredits');
    perfex_update_invoice_status($invoiceId);
}

/** Credit_notes_model::delete: the credit note, its credits and refunds, then after_credit_note_deleted. */
function perfex_delete_credit_note(int $creditNoteId): void
{
    hooks()->do_action('before_credit_note_deleted', $creditNoteId);
    perfex_db()->where('id', $creditNoteId)->delete('tblcreditnotes');
    perfex_db()->where('credit_id', $creditNoteId)->delete('tblcredits');
    perfex_db()->where('credit_note_id', $creditNoteId)->delete('tblcreditnote_refunds');
    hooks()->do_action('after_credit_note_deleted', $creditNoteId);
}

/** The queue's rows, oldest first. */
function perfex_queue(): array
{
    return perfex_db()->order_by('id')->get('tblloyalty_bridge_queue')->result_array();
}

/** The queued events (decoded bodies) by webhook id. */
function perfex_queued_events(): array
{
    $events = [];
    foreach (perfex_queue() as $row) {
        $events[$row['webhook_id']] = json_decode($row['body'], true);
    }
    return $events;
}

/** $CI->payments_model: add() as Payments_model::add does it (see perfex_add_payment). */
get_instance()->payments_model = new class () {
    public function add(array $data)
    {
        $extra = array_intersect_key($data, ['transactionid' => true, 'note' => true]);
        return perfex_add_payment((int) $data['invoiceid'], (string) $data['amount'], (string) $data['paymentmode'], $extra);
    }
};
