<?php
/**
 * Idempotent install: run on every activation (and by the migration). Adds the module's
 * options where missing, creates its one table, the delivery queue, if it does not exist
 * (utf8mb4, signed INT keys like Perfex's own tables), and its payment mode, "Loyalty
 * points", if the one it made is gone.
 */

defined('BASEPATH') or exit('No direct script access allowed');

require_once __DIR__ . '/includes/settings.php';

$CI = &get_instance();

foreach (loyalty_bridge_option_defaults() as $name => $default) {
    // add_option leaves an existing option (and the owner's value) alone.
    add_option($name, $default, 0);
}

if (!$CI->db->table_exists(db_prefix() . 'loyalty_bridge_queue')) {
    $CI->db->query('CREATE TABLE IF NOT EXISTS `' . db_prefix() . 'loyalty_bridge_queue` (
        `id` INT(11) NOT NULL AUTO_INCREMENT,
        `webhook_id` VARCHAR(191) NOT NULL,
        `event_type` VARCHAR(64) NOT NULL,
        `body` MEDIUMTEXT NOT NULL,
        `status` VARCHAR(16) NOT NULL DEFAULT \'pending\',
        `attempts` INT(11) NOT NULL DEFAULT 0,
        `next_attempt_at` DATETIME NOT NULL,
        `claim_token` VARCHAR(32) NULL DEFAULT NULL,
        `claimed_at` DATETIME NULL DEFAULT NULL,
        `last_status` INT(11) NULL DEFAULT NULL,
        `last_error` TEXT NULL,
        `created_at` DATETIME NOT NULL,
        `sent_at` DATETIME NULL DEFAULT NULL,
        PRIMARY KEY (`id`),
        UNIQUE KEY `webhook_id` (`webhook_id`),
        KEY `due` (`status`, `next_attempt_at`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci');
}

$loyaltyMode = (int) get_option('loyalty_bridge_payment_mode');
if ($loyaltyMode === 0 || !$CI->db->where('id', $loyaltyMode)->get(db_prefix() . 'payment_modes')->row_array()) {
    $CI->db->insert(db_prefix() . 'payment_modes', [
        'name' => 'Loyalty points',
        'description' => 'Paid with loyalty points (loyalty_bridge module)',
        'show_on_pdf' => 1,
        'invoices_only' => 1,
        'expenses_only' => 0,
        'selected_by_default' => 0,
        'active' => 1,
    ]);
    update_option('loyalty_bridge_payment_mode', (string) $CI->db->insert_id());
}
