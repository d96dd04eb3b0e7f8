<?php
/**
 * The loyalty_bridge module's PHP, unit by unit, on Perfex's tables in MariaDB: each hook's
 * mapping from rows to contract events, idempotency, the queue, the install, signatures.
 * No plugin is configured here, so events stay queued and are read from the queue.
 */

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

final class LoyaltyBridgeTest extends TestCase
{
    private int $eur;

    protected function setUp(): void
    {
        $GLOBALS['perfex_user'] = [];
        perfex_fresh_database();
        $this->eur = perfex_currency('EUR');
    }

    private function invoice(int $client, string $tax = '0.00'): int
    {
        return perfex_add_invoice($client, $this->eur, [['Beans 1 kg', '2.00', '60.00'], ['Mug', '1.00', '5.00']], $tax);
    }

    public function test_a_new_customer_is_read_back_without_the_password(): void
    {
        update_option('loyalty_bridge_dob_field', 'customers_date_of_birth');
        perfex_birthday_field();
        $id = perfex_add_client('Ana', 'Horvat', 'ana@example.com',
            ['phone' => '+385 1 555', 'group' => 'Retail', 'birthday' => '1990-02-03']);
        $rows = perfex_queue();
        $this->assertCount(1, $rows);
        $this->assertSame('perfex-client-' . $id . '-created', $rows[0]['webhook_id']);
        $event = json_decode($rows[0]['body'], true);
        $this->assertSame('customer.created', $event['type']);
        $this->assertSame([
            'id' => $id, 'first_name' => 'Ana', 'last_name' => 'Horvat', 'email' => 'ana@example.com',
            'phone' => '+385 1 555', 'date_of_birth' => '1990-02-03', 'group' => 'Retail', 'groups' => ['Retail'],
        ], $event['data']['customer']);
        $this->assertStringNotContainsString('secret-password', $rows[0]['body']);
        $this->assertStringNotContainsString('password', $rows[0]['body']);
    }

    public function test_every_customer_group_is_sent_and_leaving_them_all_clears_them(): void
    {
        $id = perfex_add_client('Ana', 'Horvat', 'ana@example.com', ['group' => 'Retail']);
        perfex_add_customer_group($id, 'Wholesale');
        perfex_add_customer_group($id, 'Staff');
        hooks()->do_action('client_updated', ['id' => $id, 'data' => []]);
        $events = array_values(perfex_queued_events());
        $this->assertSame('Retail', $events[1]['data']['customer']['group']);
        $this->assertSame(['Retail', 'Wholesale', 'Staff'], $events[1]['data']['customer']['groups']);
        perfex_db()->where('customer_id', $id)->delete('tblcustomer_groups');
        hooks()->do_action('client_updated', ['id' => $id, 'data' => []]);
        $customer = array_values(perfex_queued_events())[2]['data']['customer'];
        $this->assertSame([], $customer['groups']);
        $this->assertArrayNotHasKey('group', $customer);
    }

    public function test_an_updated_customer_and_a_date_that_is_not_one(): void
    {
        update_option('loyalty_bridge_dob_field', 'customers_date_of_birth');
        $id = perfex_add_client('Ben', 'Okafor', 'ben@example.com', ['birthday' => '31/02/1990']);
        hooks()->do_action('client_updated', ['id' => $id, 'data' => []]);
        hooks()->do_action('client_updated', ['id' => $id, 'data' => []]);
        $events = array_values(perfex_queued_events());
        $this->assertSame(['customer.created', 'customer.updated'], array_column($events, 'type'));
        $this->assertArrayNotHasKey('date_of_birth', $events[1]['data']['customer']);
    }

    public function test_a_refired_update_in_the_next_second_queues_nothing_and_a_change_back_is_sent(): void
    {
        $id = perfex_add_client('Ben', 'Okafor', 'ben@example.com');
        hooks()->do_action('client_updated', ['id' => $id, 'data' => []]);
        usleep((int) ((1.05 - fmod(microtime(true), 1.0)) * 1e6));  // into the next second
        hooks()->do_action('client_updated', ['id' => $id, 'data' => []]);
        $this->assertSame(['customer.created', 'customer.updated'], array_column(array_values(perfex_queued_events()), 'type'));
        loyalty_bridge_db()->where('userid', $id)->update(db_prefix() . 'contacts', ['firstname' => 'Benjamin']);
        hooks()->do_action('client_updated', ['id' => $id, 'data' => []]);
        loyalty_bridge_db()->where('userid', $id)->update(db_prefix() . 'contacts', ['firstname' => 'Ben']);
        hooks()->do_action('client_updated', ['id' => $id, 'data' => []]);
        $names = array_map(static fn ($e) => $e['data']['customer']['first_name'] ?? null,
            array_slice(array_values(perfex_queued_events()), 1));
        $this->assertSame(['Ben', 'Benjamin', 'Ben'], $names);
    }

    public function test_paid_in_two_payments_sends_paid_once_with_decimal_strings(): void
    {
        perfex_catalogue_item('Beans 1 kg', '60.00', 'Coffee');
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client, '25.00');
        perfex_add_payment($invoice, '100.00');
        $this->assertSame(['perfex-client-' . $client . '-created'], array_keys(perfex_queued_events()));
        perfex_add_payment($invoice, '50.00');
        $events = perfex_queued_events();
        $paid = $events['perfex-invoice-' . $invoice . '-paid'];
        $this->assertSame('invoice.paid', $paid['type']);
        $data = $paid['data']['invoice'];
        $this->assertSame(['150.00', '125.00', '25.00', 'EUR', $client], [$data['total'], $data['subtotal'],
            $data['tax_total'], $data['currency'], $data['customer_id']]);
        $this->assertSame('Beans 1 kg', $data['items'][0]['name']);
        $this->assertSame(['2.00', '60.00', '120.00'], [$data['items'][0]['qty'], $data['items'][0]['unit_price'],
            $data['items'][0]['total']]);
        $this->assertArrayHasKey('category_id', $data['items'][0]);
        $this->assertArrayNotHasKey('product_id', $data['items'][1], 'a line typed by hand matches no item');
        $body = perfex_queue()[1]['body'];
        $this->assertStringContainsString('"total":"150.00"', $body);
        $this->assertDoesNotMatchRegularExpression('/":\d+\.\d/', $body, 'no amount travels as a JSON number');
    }

    public function test_each_payment_mode_sends_every_payment_then_paid(): void
    {
        update_option('loyalty_bridge_each_payment', '1');
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        $first = perfex_add_payment($invoice, '25.00');
        $second = perfex_add_payment($invoice, '100.00');
        $events = perfex_queued_events();
        $this->assertSame(['25.00', '100.00'], [
            $events['perfex-payment-' . $first]['data']['payment']['amount'],
            $events['perfex-payment-' . $second]['data']['payment']['amount'],
        ]);
        $this->assertSame('invoice.payment_recorded', $events['perfex-payment-' . $first]['type']);
        $this->assertArrayHasKey('perfex-invoice-' . $invoice . '-paid', $events);
    }

    public function test_the_same_hook_fired_twice_queues_once(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        $payment = perfex_add_payment($invoice, '125.00');
        hooks()->do_action('after_payment_added', $payment);
        hooks()->do_action('after_client_created', ['id' => $client]);
        hooks()->do_action('invoice_marked_as_cancelled', $invoice);
        hooks()->do_action('invoice_marked_as_cancelled', $invoice);
        $this->assertSame([
            'perfex-client-' . $client . '-created',
            'perfex-invoice-' . $invoice . '-paid',
            'perfex-invoice-' . $invoice . '-cancelled',
        ], array_keys(perfex_queued_events()));
    }

    public function test_a_deleted_payment_of_a_paid_invoice_is_refunded_by_its_amount(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        $first = perfex_add_payment($invoice, '25.00');
        perfex_add_payment($invoice, '100.00');
        perfex_delete_payment($first);
        $refund = perfex_queued_events()['perfex-payment-' . $first . '-deleted'];
        $this->assertSame('invoice.refunded', $refund['type']);
        $this->assertSame(['invoice_id' => $invoice, 'refund' => ['id' => 'payment-' . $first . '-deleted',
            'amount' => '25.00']], $refund['data']);
    }

    public function test_a_deleted_payment_the_plugin_never_counted_sends_nothing(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        $payment = perfex_add_payment($invoice, '25.00');
        perfex_delete_payment($payment);
        $this->assertSame(['perfex-client-' . $client . '-created'], array_keys(perfex_queued_events()));
    }

    public function test_a_smaller_payment_refunds_the_difference(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        $payment = perfex_add_payment($invoice, '125.00');
        perfex_update_payment($payment, '100.00');
        $events = array_values(perfex_queued_events());
        $this->assertSame('invoice.refunded', $events[2]['type']);
        $this->assertSame('25.00', $events[2]['data']['refund']['amount']);
    }

    public function test_cancelled_and_uncancelled(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        perfex_uncancel_invoice($invoice);  // never cancelled: nothing to reinstate
        perfex_cancel_invoice($invoice);
        perfex_uncancel_invoice($invoice);
        perfex_uncancel_invoice($invoice);  // fired again: the same reinstatement
        perfex_cancel_invoice($invoice);
        perfex_cancel_invoice($invoice);  // fired again: the same cancellation
        perfex_uncancel_invoice($invoice);
        $events = perfex_queued_events();
        $prefix = 'perfex-invoice-' . $invoice . '-';
        $sent = [];
        foreach ($events as $webhookId => $event) {
            if (str_starts_with($webhookId, $prefix)) {
                $sent[$webhookId] = [$event['type'], $event['data']['invoice_id']];
            }
        }
        $this->assertSame([
            $prefix . 'cancelled' => ['invoice.cancelled', $invoice],
            $prefix . 'reinstated-1' => ['invoice.reinstated', $invoice],
            $prefix . 'cancelled-2' => ['invoice.cancelled', $invoice],
            $prefix . 'reinstated-2' => ['invoice.reinstated', $invoice],
        ], $sent);
        $this->assertCount(5, $events, 'the client and the four events above');
    }

    public function test_an_invoice_still_cancelled_is_not_reinstated(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        perfex_cancel_invoice($invoice);
        hooks()->do_action('invoice_unmarked_as_cancelled', $invoice);  // its row says 5
        $this->assertSame(
            ['perfex-invoice-' . $invoice . '-cancelled'],
            array_values(array_filter(array_keys(perfex_queued_events()),
                static fn (string $id): bool => str_starts_with($id, 'perfex-invoice-')))
        );
    }

    public function test_a_credit_note_for_two_of_three_lines_refunds_those_lines(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = perfex_add_invoice($client, $this->eur,
            [['Beans 1 kg', '2.00', '60.00'], ['Mug', '3.00', '5.00'], ['Filter', '1.00', '4.00']]);
        $lines = perfex_db()->where('rel_id', $invoice)->where('rel_type', 'invoice')->order_by('id')
            ->get('tblitemable')->result_array();
        $note = perfex_add_credit_note($client, $this->eur, [['Beans 1 kg', '1.00', '60.00'], ['Mug', '3.00', '5.00']]);
        perfex_apply_credit($note, $invoice, '75.00');
        hooks()->do_action('credits_applied', ['data' => [], 'credit_note_id' => $note]);
        $refunds = array_values(array_filter(perfex_queued_events(), fn ($e) => $e['type'] === 'invoice.refunded'));
        $this->assertCount(1, $refunds);
        $this->assertSame('75.00', $refunds[0]['data']['refund']['amount']);
        $this->assertSame([
            ['line_id' => (int) $lines[0]['id'], 'qty' => '1.00'],
            ['line_id' => (int) $lines[1]['id'], 'qty' => '3.00'],
        ], $refunds[0]['data']['refund']['items']);
    }

    public function test_a_credit_note_applied_in_part_refunds_by_amount(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        $note = perfex_add_credit_note($client, $this->eur, [['Beans 1 kg', '1.00', '60.00']]);
        perfex_apply_credit($note, $invoice, '20.00');
        $refund = array_values(array_filter(perfex_queued_events(), fn ($e) => $e['type'] === 'invoice.refunded'))[0];
        $this->assertSame(['id', 'amount'], array_keys($refund['data']['refund']));
    }

    public function test_a_credit_note_refunded_in_money_refunds_its_invoice(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        perfex_add_payment($invoice, '125.00');
        $note = perfex_credit_note_from_invoice($invoice, $this->eur, [['Mug', '1.00', '5.00']]);
        $refund = perfex_refund_credit_note($note, '5.00');
        hooks()->do_action('credit_note_refund_created', ['data' => [], 'credit_note_id' => $note]);
        $other = perfex_add_credit_note($client, $this->eur, [['Mug', '1.00', '5.00']]);
        perfex_refund_credit_note($other, '5.00');
        $refunds = array_filter(perfex_queued_events(), fn ($e) => $e['type'] === 'invoice.refunded');
        $this->assertSame(['perfex-credit-note-refund-' . $refund => [
            'invoice_id' => $invoice, 'refund' => ['id' => 'credit-note-refund-' . $refund, 'amount' => '5.00'],
        ]], array_map(fn ($e) => $e['data'], $refunds), 'once, and only for a credit note made from an invoice');
        ($GLOBALS['perfex_module_hooks']['loyalty_bridge']['uninstall'])();
        $this->assertSame('', get_option('loyalty_bridge_credit_note_' . $note . '_invoice'));
    }

    public function test_a_payment_recorded_again_after_a_deletion_is_sent(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        $first = perfex_add_payment($invoice, '100.00');
        $second = perfex_add_payment($invoice, '25.00');
        $events = perfex_queued_events();
        $this->assertArrayNotHasKey('perfex-payment-' . $first, $events, 'before it is paid, payments wait for paid');
        $this->assertSame([['id' => (string) $first, 'amount' => '100.00'], ['id' => (string) $second, 'amount' => '25.00']],
            $events['perfex-invoice-' . $invoice . '-paid']['data']['payments']);
        perfex_delete_payment($second);
        $again = perfex_add_payment($invoice, '25.00');
        hooks()->do_action('after_payment_added', $again);  // fired twice: sent once
        $events = perfex_queued_events();
        $sent = $events['perfex-payment-' . $again];
        $this->assertSame('invoice.payment_recorded', $sent['type']);
        $this->assertSame(['id' => (string) $again, 'amount' => '25.00'],
            array_intersect_key($sent['data']['payment'], ['id' => 1, 'amount' => 1]));
        $this->assertSame([
            'perfex-client-' . $client . '-created',
            'perfex-invoice-' . $invoice . '-paid',
            'perfex-payment-' . $second . '-deleted',
            'perfex-payment-' . $again,
        ], array_keys($events));
    }

    public function test_a_deleted_credit_note_refund_is_reversed_once(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        perfex_add_payment($invoice, '125.00');
        $note = perfex_credit_note_from_invoice($invoice, $this->eur, [['Mug', '1.00', '5.00']]);
        $refund = perfex_refund_credit_note($note, '5.00');
        perfex_delete_credit_note_refund($refund, $note);
        hooks()->do_action('credit_note_refund_deleted', ['refund_id' => $refund, 'credit_note_id' => $note]);
        hooks()->do_action('after_cron_run', false);
        $events = perfex_queued_events();
        $this->assertSame(['type' => 'invoice.refund_reversed', 'data' => [
            'invoice_id' => $invoice, 'refund_id' => 'credit-note-refund-' . $refund,
        ]], array_intersect_key($events['perfex-credit-note-refund-' . $refund . '-reversed'], ['type' => 1, 'data' => 1]));
        $this->assertCount(1, array_filter($events, fn ($e) => $e['type'] === 'invoice.refund_reversed'));
        $this->assertCount(1, array_filter($events, fn ($e) => $e['type'] === 'invoice.refunded'));
    }

    public function test_a_credit_taken_off_an_invoice_it_paid_is_a_deleted_payment_and_a_reversed_refund(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        perfex_add_payment($invoice, '60.00');
        $note = perfex_add_credit_note($client, $this->eur, [['Beans 1 kg', '1.00', '65.00']]);
        $credit = perfex_apply_credit($note, $invoice, '65.00');
        $paid = perfex_queued_events()['perfex-invoice-' . $invoice . '-paid'];
        $this->assertSame(['credit-' . $credit, '65.00'], array_values($paid['data']['payments'][1]));
        perfex_delete_applied_credit($credit, $invoice);
        hooks()->do_action('after_cron_run', false);  // the sweep again: nothing new
        $events = perfex_queued_events();
        $this->assertSame(['invoice_id' => $invoice, 'refund' => ['id' => 'credit-' . $credit . '-deleted', 'amount' => '65.00']],
            $events['perfex-credit-' . $credit . '-deleted']['data']);
        $this->assertSame(['invoice_id' => $invoice, 'refund_id' => 'credit-' . $credit],
            $events['perfex-credit-' . $credit . '-reversed']['data']);
        $this->assertCount(5, $events, 'the client, the credit, paid, its deletion and its reversal');
    }

    public function test_a_credit_that_did_not_pay_the_invoice_and_a_deleted_credit_note_are_only_reversed(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        $note = perfex_add_credit_note($client, $this->eur, [['Beans 1 kg', '1.00', '20.00']]);
        $credit = perfex_apply_credit($note, $invoice, '20.00');
        perfex_delete_credit_note($note);
        $events = perfex_queued_events();
        $this->assertArrayNotHasKey('perfex-credit-' . $credit . '-deleted', $events);
        $this->assertSame('invoice.refund_reversed', $events['perfex-credit-' . $credit . '-reversed']['type']);
    }

    public function test_birthdays_once_per_customer_and_year(): void
    {
        update_option('loyalty_bridge_dob_field', 'customers_date_of_birth');
        $ana = perfex_add_client('Ana', 'Horvat', 'ana@example.com', ['birthday' => '1990-03-05']);
        $leap = perfex_add_client('Lea', 'Prestupna', 'lea@example.com', ['birthday' => '2000-02-29']);
        perfex_add_client('Ben', 'Okafor', 'ben@example.com', ['birthday' => '1990-03-06']);
        $this->assertSame(1, loyalty_bridge_birthdays('2026-03-05'));
        $this->assertSame(0, loyalty_bridge_birthdays('2026-03-05'), 'once per year');
        $this->assertSame(1, loyalty_bridge_birthdays('2027-03-05'), 'and again the next year');
        $this->assertSame(1, loyalty_bridge_birthdays('2026-02-28'), 'born on 29 February');
        $this->assertSame(0, loyalty_bridge_birthdays('2028-02-28'), 'a leap year has its own day');
        $events = perfex_queued_events();
        $this->assertSame(['customer_id' => $ana, 'date' => '2026-03-05'],
            $events['perfex-client-' . $ana . '-birthday-2026']['data']);
        $this->assertArrayHasKey('perfex-client-' . $leap . '-birthday-2026', $events);
    }

    public function test_the_cron_gives_birthdays_only_when_the_settings_say_the_module_does(): void
    {
        update_option('loyalty_bridge_dob_field', 'customers_date_of_birth');
        perfex_add_client('Ana', 'Horvat', 'ana@example.com', ['birthday' => '1990-' . date('m-d')]);
        hooks()->do_action('after_cron_run', false);
        $this->assertCount(1, perfex_queue());
        update_option('loyalty_bridge_birthdays', 'module');
        hooks()->do_action('after_cron_run', false);
        $this->assertSame(['customer.created', 'customer.birthday'], array_column(perfex_queue(), 'event_type'));
    }

    public function test_install_is_idempotent_and_keeps_the_owners_values(): void
    {
        update_option('loyalty_bridge_url', 'https://loyalty.example.com/loyalty');
        perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        ($GLOBALS['perfex_module_hooks']['loyalty_bridge']['activate'])();
        require_once PERFEX_MODULE_DIR . '/migrations/100_version_100.php';
        (new Migration_Version_100())->up();
        $this->assertSame('https://loyalty.example.com/loyalty', get_option('loyalty_bridge_url'));
        $this->assertSame('2', get_option('loyalty_bridge_paid_statuses'));
        $this->assertCount(1, perfex_queue(), 'the queue keeps its rows');
        $modes = perfex_db()->get('tblpayment_modes')->result_array();
        $this->assertSame([['Loyalty points', (string) loyalty_bridge_payment_mode()]],
            array_map(fn ($m) => [$m['name'], (string) $m['id']], $modes), 'one payment mode');
        $table = perfex_db()->query('SHOW CREATE TABLE tblloyalty_bridge_queue')->row_array()['Create Table'];
        $this->assertStringContainsString('utf8mb4', $table);
        $this->assertStringContainsString('`id` int(11) NOT NULL AUTO_INCREMENT', $table);
        ($GLOBALS['perfex_module_hooks']['loyalty_bridge']['uninstall'])();
        $this->assertFalse(perfex_db()->table_exists('tblloyalty_bridge_queue'));
        $this->assertSame('', get_option('loyalty_bridge_url'));
    }

    public function test_a_points_payment_earns_nothing_and_invoice_paid_names_its_hold(): void
    {
        update_option('loyalty_bridge_each_payment', '1');
        $mode = (string) loyalty_bridge_payment_mode();
        $this->assertNotSame('0', $mode);
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = $this->invoice($client);
        $points = perfex_add_payment($invoice, '10.00', $mode, ['transactionid' => 'loyalty-redemption-77']);
        perfex_add_payment($invoice, '115.00');
        $events = perfex_queued_events();
        $this->assertArrayNotHasKey('perfex-payment-' . $points, $events, 'paid with points: not a payment');
        $paid = $events['perfex-invoice-' . $invoice . '-paid']['data']['invoice'];
        $this->assertSame(['115.00', '10.00', 77], [$paid['total'], $paid['discount_total'], $paid['redemption_id']]);
        $this->assertSame('115.00', array_values($events)[1]['data']['invoice']['total'], 'the payment too');
    }

    public function test_the_points_box_shows_the_offer(): void
    {
        $action = 'http://perfex.test/loyalty_bridge/my_points/pay/1/abc';
        foreach ([
            [['points' => 250, 'amount' => '2.50', 'currency' => 'EUR', 'balance' => 300], '250 points can pay 2.50 EUR'],
            [['points' => 0, 'amount' => '0.00', 'currency' => 'EUR', 'balance' => 5], 'Points: 5.'],
            [['error' => 'HTTP 401'], _l('loyalty_bridge_points_unavailable')],
            [null, _l('loyalty_bridge_nothing_to_pay')],
        ] as [$offer, $words]) {
            ob_start();
            include PERFEX_MODULE_DIR . '/views/points_box.php';
            $html = ob_get_clean();
            $this->assertStringContainsString($words, $html);
            $this->assertSame($offer !== null && ($offer['points'] ?? 0) > 0, str_contains($html, $action));
        }
    }

    public function test_admin_init_adds_the_settings_section_the_menu_items_and_the_capability(): void
    {
        $GLOBALS['perfex_ui'] = [];
        $GLOBALS['perfex_user'] = ['staff_id' => 1, 'capabilities' => ['loyalty_bridge:view']];
        hooks()->do_action('admin_init');
        $ui = $GLOBALS['perfex_ui'];
        $this->assertSame(['view', 'manage'], $ui['capabilities']['loyalty_bridge']);
        $this->assertSame(['integrations', 'loyalty_bridge'], array_slice($ui['settings_section']['add_settings_section_child'][0], 0, 2));
        $this->assertSame('loyalty_bridge/settings', $ui['settings_section']['add_settings_section_child'][0][2]['view']);
        $this->assertSame(['loyalty-bridge-queue'], array_column($ui['menu']['add_setup_menu_item'], 0));
        $this->assertArrayNotHasKey('add_sidebar_menu_item', $ui['menu'], 'no "Loyalty" item without an API key');
        $this->assertSame('staff', loyalty_bridge_staff_role());

        $GLOBALS['perfex_ui'] = [];
        update_option('loyalty_bridge_api_key', 'lk_test');
        update_option('loyalty_bridge_last_drain', '0');
        hooks()->do_action('admin_init');
        $this->assertSame('http://perfex.test/admin/loyalty_bridge/open',
            $GLOBALS['perfex_ui']['menu']['add_sidebar_menu_item'][0][1]['href']);

        $GLOBALS['perfex_ui'] = [];
        $GLOBALS['perfex_user'] = ['staff_id' => 2, 'capabilities' => []];
        hooks()->do_action('admin_init');
        $this->assertArrayNotHasKey('menu', $GLOBALS['perfex_ui'], 'staff without the capability see no item');
        $GLOBALS['perfex_user'] = ['staff_id' => 3, 'admin' => true];
        $this->assertSame('owner', loyalty_bridge_staff_role());
    }

    public function test_the_customers_area_menu_and_the_invoice_box_are_for_the_signed_in_customer(): void
    {
        $client = perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $invoice = (object) perfex_db()->where('id', $this->invoice($client))->get('tblinvoices')->row_array();
        $GLOBALS['perfex_ui'] = [];
        $GLOBALS['perfex_user'] = ['client_id' => $client];
        hooks()->do_action('clients_init');
        $this->assertArrayNotHasKey('theme_menu', $GLOBALS['perfex_ui'], 'no API key: no "My points"');
        update_option('loyalty_bridge_api_key', 'lk_test');
        hooks()->do_action('clients_init');
        $this->assertSame('http://perfex.test/loyalty_bridge/my_points',
            $GLOBALS['perfex_ui']['theme_menu']['loyalty-bridge-my-points']['href']);

        ob_start();
        hooks()->do_action('after_invoice_view_as_client_link', $invoice);
        $this->assertSame('', ob_get_clean(), 'only staff who may record payments');
        $GLOBALS['perfex_user'] = ['staff_id' => 1, 'capabilities' => ['payments:create']];
        ob_start();
        hooks()->do_action('after_invoice_view_as_client_link', $invoice);
        $this->assertStringContainsString('admin/loyalty_bridge/points/' . $invoice->id, ob_get_clean());

        $GLOBALS['perfex_user'] = ['client_id' => $client + 1];
        ob_start();
        hooks()->do_action('after_total_summary_invoicehtml', $invoice);
        $this->assertSame('', ob_get_clean(), 'another customer sees no box');
    }

    public function test_the_settings_tab_before_perfex_3_2(): void
    {
        $GLOBALS['perfex_ui'] = [];
        $GLOBALS['perfex_user'] = ['admin' => true];
        $app = get_instance()->app;
        get_instance()->app = new stdClass();
        try {
            loyalty_bridge_admin_init();
        } finally {
            get_instance()->app = $app;
        }
        $this->assertSame('loyalty_bridge', $GLOBALS['perfex_ui']['settings_tab']['add_settings_tab'][0][0]);
    }

    public function test_decimals_never_pass_through_floats(): void
    {
        $this->assertSame('120.00', loyalty_bridge_line_total('2.00', '60.00'));
        $this->assertSame('0.0625', loyalty_bridge_line_total('0.25', '0.25'));
        $this->assertSame('99999999999.99', loyalty_bridge_decimal('99999999999.99'));
        $this->assertSame('-1.50', loyalty_bridge_money(loyalty_bridge_cents('-1.5')));
        $this->expectException(InvalidArgumentException::class);
        loyalty_bridge_cents(1.5);
    }

    public function test_signatures_equal_the_shared_vectors(): void
    {
        $vectors = json_decode(file_get_contents(__DIR__ . '/../../data/standard-webhooks.json'), true);
        foreach ($vectors['valid'] as $vector) {
            $this->assertSame($vector['webhook-signature'], loyalty_sign(
                $vector['secret'], $vector['webhook-id'], (int) $vector['webhook-timestamp'], $vector['body']));
        }
        $this->assertFileEquals(__DIR__ . '/../../../hooks/php/loyalty_webhooks.php',
            PERFEX_MODULE_DIR . '/includes/loyalty_webhooks.php', 'the module ships the library unchanged');
    }

    public function test_an_unreachable_plugin_leaves_the_event_queued_with_its_error(): void
    {
        update_option('loyalty_bridge_url', 'http://127.0.0.1:9/loyalty');
        update_option('loyalty_bridge_secret', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
        $started = microtime(true);
        perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $this->assertLessThan(2.5, microtime(true) - $started);
        $row = perfex_queue()[0];
        $this->assertSame(['pending', '1', '0'], [$row['status'], (string) $row['attempts'], (string) $row['last_status']]);
        $this->assertStringStartsWith('the plugin could not be reached', $row['last_error']);
        $this->assertGreaterThan(date('Y-m-d H:i:s'), $row['next_attempt_at']);
        $this->assertSame(0, loyalty_bridge_drain(10), 'not due yet');
        $this->assertTrue(loyalty_bridge_retry((int) $row['id']));
        $this->assertSame([(int) $row['id']], loyalty_bridge_due_ids(10));
    }

    public function test_the_queue_page_lists_what_waits_with_its_error_and_a_retry_button(): void
    {
        update_option('loyalty_bridge_url', 'http://127.0.0.1:9/loyalty');
        update_option('loyalty_bridge_secret', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
        perfex_add_client('Ana <b>', 'Horvat', 'ana@example.com');
        $id = (int) perfex_queue()[0]['id'];
        loyalty_bridge_retry($id);
        loyalty_bridge_drain(10);  // one attempt (this process may have given up on the plugin already)
        $title = _l('loyalty_bridge_queue');
        $rows = loyalty_bridge_unsent();
        ob_start();
        include PERFEX_MODULE_DIR . '/views/queue.php';
        $html = ob_get_clean();
        $this->assertStringContainsString('customer.created · perfex-client-1-created', $html);
        $this->assertStringContainsString('the plugin could not be reached', $html);
        $this->assertStringContainsString('action="http://perfex.test/admin/loyalty_bridge/retry/' . $id . '"', $html);
        $rows = [];
        ob_start();
        include PERFEX_MODULE_DIR . '/views/queue.php';
        $this->assertStringContainsString(_l('loyalty_bridge_queue_empty'), ob_get_clean());
    }

    public function test_a_claimed_row_is_not_claimed_twice(): void
    {
        perfex_add_client('Ana', 'Horvat', 'ana@example.com');
        $id = (int) perfex_queue()[0]['id'];
        $this->assertNotNull(loyalty_bridge_claim($id));
        $this->assertNull(loyalty_bridge_claim($id));
        $this->assertSame([], loyalty_bridge_due_ids(10));
    }

    public function test_the_test_button_says_what_is_missing(): void
    {
        $this->assertSame(['ok' => false, 'messages' => [_l('loyalty_bridge_test_not_configured')]],
            loyalty_bridge_test_connection());
        update_option('loyalty_bridge_url', 'http://127.0.0.1:9/loyalty');
        update_option('loyalty_bridge_secret', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
        $answer = loyalty_bridge_test_connection();
        $this->assertFalse($answer['ok']);
        $this->assertStringStartsWith(_l('loyalty_bridge_test_unreachable'), $answer['messages'][0]);
    }

    public function test_the_settings_view_renders_every_field(): void
    {
        update_option('loyalty_bridge_url', 'https://loyalty.example.com/loyalty?a="b"');
        ob_start();
        include PERFEX_MODULE_DIR . '/views/settings.php';
        $html = ob_get_clean();
        foreach (array_keys(loyalty_bridge_option_defaults()) as $name) {
            if (!in_array($name, ['loyalty_bridge_last_drain', 'loyalty_bridge_payment_mode'], true)) {
                $this->assertStringContainsString('name="settings[' . $name . ']"', $html);
            }
        }
        $this->assertStringContainsString('a=&quot;b&quot;', $html);
    }
}
