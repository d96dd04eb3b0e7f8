<?php

defined('BASEPATH') or exit('No direct script access allowed');

/*
Module Name: Loyalty Bridge
Description: Connects Perfex CRM to loyalty_plugin: customers, payments, cancellations, credit notes and birthdays earn and reverse loyalty points, through a signed, retried event queue.
Version: 1.1.0
Requires at least: 2.9.4
Author: loyalty_plugin
*/

define('LOYALTY_BRIDGE_MODULE', 'loyalty_bridge');

require_once __DIR__ . '/includes/loyalty_webhooks.php';
require_once __DIR__ . '/includes/settings.php';
require_once __DIR__ . '/includes/decimal.php';
require_once __DIR__ . '/includes/events.php';
require_once __DIR__ . '/includes/queue.php';
require_once __DIR__ . '/includes/handlers.php';
require_once __DIR__ . '/includes/links.php';
require_once __DIR__ . '/includes/points.php';

register_activation_hook(LOYALTY_BRIDGE_MODULE, 'loyalty_bridge_activate');
register_deactivation_hook(LOYALTY_BRIDGE_MODULE, 'loyalty_bridge_deactivate');
register_uninstall_hook(LOYALTY_BRIDGE_MODULE, 'loyalty_bridge_uninstall');
register_language_files(LOYALTY_BRIDGE_MODULE, [LOYALTY_BRIDGE_MODULE]);

// Hook names and arguments as Perfex 2.9.4 and later fire them (after_client_added and
// after_client_updated were renamed after_client_created and client_updated in 2.9.4).
hooks()->add_action('after_client_created', 'loyalty_bridge_client_created');
hooks()->add_action('client_updated', 'loyalty_bridge_client_updated');
hooks()->add_action('after_payment_added', 'loyalty_bridge_payment_added');
hooks()->add_action('after_payment_updated', 'loyalty_bridge_payment_updated');
hooks()->add_action('before_payment_deleted', 'loyalty_bridge_payment_deleting');
hooks()->add_action('after_payment_deleted', 'loyalty_bridge_payment_deleted');
hooks()->add_action('invoice_marked_as_cancelled', 'loyalty_bridge_invoice_cancelled');
hooks()->add_action('invoice_unmarked_as_cancelled', 'loyalty_bridge_invoice_reinstated');
hooks()->add_action('credits_applied', 'loyalty_bridge_credits_applied');
hooks()->add_action('created_credit_note_from_invoice', 'loyalty_bridge_credit_note_from_invoice');
hooks()->add_action('credit_note_refund_created', 'loyalty_bridge_credit_note_refunded');
hooks()->add_action('credit_note_refund_deleted', 'loyalty_bridge_credit_note_refund_deleted');
hooks()->add_action('invoice_status_changed', 'loyalty_bridge_sweep_deleted_credits');
hooks()->add_action('after_credit_note_deleted', 'loyalty_bridge_sweep_deleted_credits');
hooks()->add_action('after_cron_run', 'loyalty_bridge_cron');
hooks()->add_action('admin_init', 'loyalty_bridge_admin_init');
hooks()->add_action('clients_init', 'loyalty_bridge_clients_init');
hooks()->add_action('after_invoice_view_as_client_link', 'loyalty_bridge_admin_invoice_link');
hooks()->add_action('after_total_summary_invoicehtml', 'loyalty_bridge_customer_invoice_box');

/** Activation: the idempotent install (options and queue table). */
function loyalty_bridge_activate(): void
{
    require __DIR__ . '/install.php';
}

/** Deactivation keeps the options and the queue: reactivating sends what waited. */
function loyalty_bridge_deactivate(): void
{
}

function loyalty_bridge_uninstall(): void
{
    require __DIR__ . '/uninstall.php';
}

/** Who may see the queue page and run the test: staff with the module's view capability. */
function loyalty_bridge_staff_can(): bool
{
    if (function_exists('is_admin') && is_admin()) {
        return true;
    }
    if (function_exists('staff_can')) {  // Perfex 3.0 and later
        return staff_can('view', LOYALTY_BRIDGE_MODULE);
    }
    return has_permission(LOYALTY_BRIDGE_MODULE, '', 'view');
}

/** The staff member's role in the plugin's admin pages: owner (Perfex admins), manager, staff. */
function loyalty_bridge_staff_role(): string
{
    if (function_exists('is_admin') && is_admin()) {
        return 'owner';
    }
    $manages = function_exists('staff_can') ? staff_can('manage', LOYALTY_BRIDGE_MODULE)
        : has_permission(LOYALTY_BRIDGE_MODULE, '', 'manage');
    return $manages ? 'manager' : 'staff';
}

/** Staff who may record payments may pay invoices with points. */
function loyalty_bridge_staff_may_take_payments(): bool
{
    if (function_exists('is_admin') && is_admin()) {
        return true;
    }
    return function_exists('staff_can') ? staff_can('create', 'payments') : has_permission('payments', '', 'create');
}

/** after_invoice_view_as_client_link (admin invoice screen's menu): "Pay with loyalty points". */
function loyalty_bridge_admin_invoice_link($invoice): void
{
    if (loyalty_bridge_option('loyalty_bridge_api_key') === '' || !loyalty_bridge_staff_may_take_payments()
        || in_array((int) $invoice->status, [2, 5], true)) {
        return;
    }
    echo '<li><a href="' . admin_url('loyalty_bridge/points/' . (int) $invoice->id) . '">'
        . _l('loyalty_bridge_pay_with_points') . '</a></li>';
}

/** after_total_summary_invoicehtml (customers-area invoice page): the box, for its own customer. */
function loyalty_bridge_customer_invoice_box($invoice): void
{
    if (loyalty_bridge_option('loyalty_bridge_api_key') === '' || !is_client_logged_in()
        || (int) $invoice->clientid !== (int) get_client_user_id() || in_array((int) $invoice->status, [2, 5, 6], true)) {
        return;
    }
    echo '<div class="col-md-6 col-md-offset-6">';
    get_instance()->load->view(LOYALTY_BRIDGE_MODULE . '/points_box', [
        'offer' => loyalty_bridge_points_offer((int) $invoice->id),
        'action' => site_url('loyalty_bridge/my_points/pay/' . (int) $invoice->id . '/' . $invoice->hash),
    ]);
    echo '</div>';
}

/** admin_init: capability, settings section, the "Loyalty" and queue menu items, a small drain. */
function loyalty_bridge_admin_init(): void
{
    $CI = &get_instance();
    register_staff_capabilities(
        LOYALTY_BRIDGE_MODULE,
        ['capabilities' => ['view' => _l('loyalty_bridge_capability_view'), 'manage' => _l('loyalty_bridge_capability_manage')]],
        _l('loyalty_bridge')
    );
    $section = [
        'name' => _l('loyalty_bridge_settings'),
        'view' => LOYALTY_BRIDGE_MODULE . '/settings',
        'position' => 60,
        'icon' => 'fa fa-star',
    ];
    if (method_exists($CI->app, 'add_settings_section_child')) {
        $CI->app->add_settings_section_child('integrations', LOYALTY_BRIDGE_MODULE, $section);  // 3.2
    } else {
        $CI->app_tabs->add_settings_tab(LOYALTY_BRIDGE_MODULE, $section);  // before 3.2
    }
    if (loyalty_bridge_staff_can() && loyalty_bridge_option('loyalty_bridge_api_key') !== '') {
        $CI->app_menu->add_sidebar_menu_item('loyalty-bridge', [
            'name' => _l('loyalty_bridge'),
            'href' => admin_url('loyalty_bridge/open'),
            'icon' => 'fa fa-star',
            'position' => 35,
        ]);
    }
    if (loyalty_bridge_staff_can()) {
        $CI->app_menu->add_setup_menu_item('loyalty-bridge-queue', [
            'name' => _l('loyalty_bridge_queue'),
            'href' => admin_url('loyalty_bridge/queue'),
            'position' => 65,
        ]);
    }
    loyalty_bridge_admin_drain();
}

/** clients_init: "My points" in the customers area, for signed-in customers, once an API key is set. */
function loyalty_bridge_clients_init(): void
{
    if (is_client_logged_in() && loyalty_bridge_option('loyalty_bridge_api_key') !== '') {
        add_theme_menu_item('loyalty-bridge-my-points', [
            'name' => _l('loyalty_bridge_my_points'),
            'href' => site_url('loyalty_bridge/my_points'),
            'position' => 30,
        ]);
    }
}
