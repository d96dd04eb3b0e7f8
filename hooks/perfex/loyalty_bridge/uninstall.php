<?php
/**
 * Uninstall (Setup → Modules → Uninstall): removes the queue table and the module's
 * options, and turns its payment mode off (payments recorded with it keep their mode).
 * Events not sent yet are lost with it; the queue page shows them before.
 */

defined('BASEPATH') or exit('No direct script access allowed');

require_once __DIR__ . '/includes/settings.php';

$CI = &get_instance();

$CI->db->where('id', (int) get_option('loyalty_bridge_payment_mode'))
    ->update(db_prefix() . 'payment_modes', ['active' => 0]);
$CI->db->query('DROP TABLE IF EXISTS `' . db_prefix() . 'loyalty_bridge_queue`');
foreach (array_keys(loyalty_bridge_option_defaults()) as $name) {
    delete_option($name);
}
// The invoices credit notes were made from (loyalty_bridge_credit_note_{id}_invoice).
$CI->db->like('name', 'loyalty_bridge_credit_note_', 'after')->delete(db_prefix() . 'options');
