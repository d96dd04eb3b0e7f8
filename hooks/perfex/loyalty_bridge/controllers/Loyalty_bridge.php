<?php

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * admin/loyalty_bridge/...: the "Loyalty" menu item's signed link, the queue page and its
 * retry button, the settings page's "send a test event" button (the module's capability),
 * and paying an invoice with points (staff who may record payments). Thin: each action calls one function of includes/.
 */
class Loyalty_bridge extends AdminController
{
    /** Events not delivered yet, with their last error. */
    public function queue()
    {
        $this->only_staff_of_the_module();
        $this->load->view(LOYALTY_BRIDGE_MODULE . '/queue', [
            'title' => _l('loyalty_bridge_queue'),
            'rows' => loyalty_bridge_unsent(),
        ]);
    }

    /** POST: send one queued or failed event again now. */
    public function retry($id)
    {
        $this->only_staff_of_the_module();
        $this->only_post();
        if (loyalty_bridge_retry((int) $id)) {
            loyalty_bridge_drain(1, [(int) $id]);
            set_alert('success', _l('loyalty_bridge_retried'));
        }
        redirect(admin_url('loyalty_bridge/queue'));
    }

    /** POST: the test event; answers JSON {ok, messages}. */
    public function test()
    {
        $this->only_staff_of_the_module();
        $this->only_post();
        $this->output
            ->set_content_type('application/json')
            ->set_output(json_encode(loyalty_bridge_test_connection()));
    }

    /** The "Loyalty" menu item: open the plugin's admin pages through a one-time signed link. */
    public function open()
    {
        $this->only_staff_of_the_module();
        $staff = loyalty_bridge_row('staff', 'staffid', (int) get_staff_user_id());
        $link = $staff === null ? ['error' => 'no such staff member']
            : loyalty_bridge_admin_link($staff, loyalty_bridge_staff_role());
        if (isset($link['url'])) {
            redirect($link['url']);
        }
        set_alert('danger', _l('loyalty_bridge_admin_unavailable') . ' ' . $link['error']);
        redirect(admin_url());
    }

    /** GET: the points the customer can use on the invoice; POST: pay with them. */
    public function points($invoiceId)
    {
        if (!loyalty_bridge_staff_may_take_payments()) {
            access_denied('payments');
        }
        $invoiceId = (int) $invoiceId;
        if ($this->input->method() === 'post') {
            $paid = loyalty_bridge_pay_with_points($invoiceId);
            if (isset($paid['error'])) {
                set_alert('danger', _l('loyalty_bridge_points_not_paid') . ' ' . $paid['error']);
            } else {
                set_alert('success', sprintf(_l('loyalty_bridge_points_paid'), $paid['points'], $paid['amount']));
            }
            redirect(admin_url('invoices/list_invoices/' . $invoiceId));
        }
        $this->load->view(LOYALTY_BRIDGE_MODULE . '/points', [
            'title' => _l('loyalty_bridge_pay_with_points'),
            'invoice_id' => $invoiceId,
            'offer' => loyalty_bridge_points_offer($invoiceId),
        ]);
    }

    private function only_staff_of_the_module(): void
    {
        if (!loyalty_bridge_staff_can()) {
            access_denied(LOYALTY_BRIDGE_MODULE);
        }
    }

    private function only_post(): void
    {
        if ($this->input->method() !== 'post') {
            show_404();
        }
    }
}
