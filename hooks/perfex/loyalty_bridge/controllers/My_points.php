<?php

defined('BASEPATH') or exit('No direct script access allowed');

/**
 * Customers area, "My points": asks the plugin for a short-lived portal link for the
 * signed-in customer and opens it. Nothing is stored; each click asks for a new link.
 */
class My_points extends ClientsController
{
    public function index()
    {
        if (!is_client_logged_in()) {
            redirect_after_login_to_current_url();
            redirect(site_url('authentication/login'));
        }
        $link = loyalty_bridge_portal_link((int) get_client_user_id());
        if (isset($link['url'])) {
            redirect($link['url']);
        }
        loyalty_bridge_log('loyalty_bridge: no portal link for customer ' . get_client_user_id() . ': ' . $link['error']);
        set_alert('warning', _l('loyalty_bridge_portal_unavailable'));
        redirect(site_url());
    }
}
