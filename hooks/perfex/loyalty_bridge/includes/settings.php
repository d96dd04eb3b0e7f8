<?php
/**
 * The module's options (Perfex's tbloptions, through get_option/update_option) and their
 * defaults. Every option name starts with "loyalty_bridge_".
 */

defined('BASEPATH') or exit('No direct script access allowed');

/** Option name => default value, as install.php adds them. */
function loyalty_bridge_option_defaults(): array
{
    return [
        // The plugin's URL prefix, e.g. https://loyalty.example.com/loyalty
        'loyalty_bridge_url' => '',
        // Empty: the plugin's default merchant.
        'loyalty_bridge_merchant_id' => '',
        // whsec_... from `loyalty secrets create`.
        'loyalty_bridge_secret' => '',
        // A key from `loyalty keys create` (the test button checks it).
        'loyalty_bridge_api_key' => '',
        // Comma-separated invoice statuses that count as paid (2 = paid).
        'loyalty_bridge_paid_statuses' => '2',
        // Slug of the customers custom field (type date) that holds the date of birth.
        'loyalty_bridge_dob_field' => '',
        // Who gives the birthday bonus: "plugin" (its own job) or "module" (Perfex's cron).
        'loyalty_bridge_birthdays' => 'plugin',
        // 1: send every payment (programs that earn on each payment); 0: only "paid".
        'loyalty_bridge_each_payment' => '0',
        // The id of the "Loyalty points" payment mode (tblpayment_modes), made by install.php.
        'loyalty_bridge_payment_mode' => '0',
        // Unix time of the last queue drain on an admin page load.
        'loyalty_bridge_last_drain' => '0',
    ];
}

/** An option's value, or its default when Perfex has none. */
function loyalty_bridge_option(string $name): string
{
    $value = get_option($name);
    if ($value === null || $value === false || $value === '') {
        return (string) (loyalty_bridge_option_defaults()[$name] ?? '');
    }
    return (string) $value;
}

/** The invoice statuses that count as paid, as integers. */
function loyalty_bridge_paid_statuses(): array
{
    $statuses = [];
    foreach (explode(',', loyalty_bridge_option('loyalty_bridge_paid_statuses')) as $part) {
        if (ctype_digit(trim($part))) {
            $statuses[] = (int) trim($part);
        }
    }
    return $statuses ?: [2];
}

/** The webhooks URL of the plugin ("" when not configured). */
function loyalty_bridge_webhooks_url(): string
{
    $base = rtrim(trim(loyalty_bridge_option('loyalty_bridge_url')), '/');
    return $base === '' ? '' : $base . '/webhooks';
}
