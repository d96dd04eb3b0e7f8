<?php

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * Customers area: "My points" opens the customer's portal through a short-lived signed
 * link (asked for at each click, never stored); pay/ID/HASH pays the customer's invoice
 * with points from the invoice page's box.
 */
class My_points extends ClientsController
{
    public function index()
    {
        $this->only_signed_in();
        $link = loyalty_bridge_portal_link((int) get_client_user_id());
        if (isset($link['url'])) {
            redirect($link['url']);
        }
        loyalty_bridge_log('loyalty_bridge: no portal link for customer ' . get_client_user_id() . ': ' . $link['error']);
        set_alert('warning', _l('loyalty_bridge_portal_unavailable'));
        redirect(site_url());
    }

    /** POST: pay the signed-in customer's own invoice with points. */
    public function pay($invoiceId, $hash)
    {
        $this->only_signed_in();
        $invoice = loyalty_bridge_row('invoices', 'id', (int) $invoiceId);
        if ($this->input->method() !== 'post' || $invoice === null || !hash_equals((string) $invoice['hash'], (string) $hash)
            || (int) $invoice['clientid'] !== (int) get_client_user_id()) {
            show_404();
        }
        $paid = loyalty_bridge_pay_with_points((int) $invoiceId);
        if (isset($paid['error'])) {
            loyalty_bridge_log('loyalty_bridge: invoice ' . (int) $invoiceId . ' not paid with points: ' . $paid['error']);
            set_alert('warning', _l('loyalty_bridge_points_not_paid'));
        } else {
            set_alert('success', sprintf(_l('loyalty_bridge_points_paid'), $paid['points'], $paid['amount']));
        }
        redirect(site_url('invoice/' . (int) $invoiceId . '/' . $invoice['hash']));
    }

    private function only_signed_in(): void
    {
        if (!is_client_logged_in()) {
            redirect_after_login_to_current_url();
            redirect(site_url('authentication/login'));
        }
    }
}
