<?php
/**
 * Uninstall (Setup → Modules → Uninstall): removes the queue table and the module's
 * options. Events not sent yet are lost with it; the queue page shows them before.
 */

defined('BASEPATH') or exit('No direct script access allowed');

require_once __DIR__ . '/includes/settings.php';

$CI = &get_instance();

$CI->db->query('DROP TABLE IF EXISTS `' . db_prefix() . 'loyalty_bridge_queue`');
foreach (array_keys(loyalty_bridge_option_defaults()) as $name) {
    delete_option($name);
}
