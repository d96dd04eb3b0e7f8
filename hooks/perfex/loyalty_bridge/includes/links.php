<?php
/**
 * Signed links into the plugin, asked for with the API key at the moment of the click and
 * never stored: the customer's portal ("My points" in the customers area).
 */

defined('BASEPATH') or exit('No direct script access allowed');

/** Minutes a portal link works: long enough to open it, short if it leaks. */
const LOYALTY_BRIDGE_LINK_MINUTES = 15;

/**
 * A portal link for a Perfex customer (POST /api/v1/customers/{id}/portal-link).
 * Returns ['url' => ...] or ['error' => words for the log].
 */
function loyalty_bridge_portal_link(int $clientId): array
{
    $base = rtrim(trim(loyalty_bridge_option('loyalty_bridge_url')), '/');
    $key = loyalty_bridge_option('loyalty_bridge_api_key');
    if ($base === '' || $key === '' || $clientId <= 0) {
        return ['error' => 'the plugin URL and API key are not set'];
    }
    $body = ['valid_minutes' => LOYALTY_BRIDGE_LINK_MINUTES];
    $merchant = trim(loyalty_bridge_option('loyalty_bridge_merchant_id'));
    if ($merchant !== '') {
        $body['merchant_id'] = $merchant;
    }
    [$status, $answer, $error] = loyalty_bridge_http(
        'POST',
        $base . '/api/v1/customers/' . $clientId . '/portal-link',
        ['Content-Type: application/json', 'Authorization: Bearer ' . $key],
        json_encode($body)
    );
    if ($status === 200 && is_string($answer['url'] ?? null) && preg_match('#^https?://#', $answer['url'])) {
        return ['url' => $answer['url']];
    }
    return ['error' => loyalty_bridge_error_text($status, $answer, $error)];
}

/**
 * A one-time link that opens the plugin's admin pages signed in as this Perfex staff
 * member, with the role given (POST /api/v1/admin-links; needs an admin-scope key).
 * $staff: Perfex's tblstaff row (staffid, firstname, lastname, email).
 * Returns ['url' => ...] or ['error' => words for the staff member].
 */
function loyalty_bridge_admin_link(array $staff, string $role): array
{
    $name = trim(($staff['firstname'] ?? '') . ' ' . ($staff['lastname'] ?? ''));
    [$status, $answer, $error] = loyalty_bridge_api('POST', '/admin-links', [
        'host_user_id' => (string) (int) $staff['staffid'],
        'name' => $name !== '' ? $name : (string) $staff['email'],
        'email' => (string) $staff['email'],
        'role' => $role,
    ]);
    if ($status === 200 && is_string($answer['url'] ?? null) && preg_match('#^https?://#', $answer['url'])) {
        return ['url' => $answer['url']];
    }
    return ['error' => loyalty_bridge_error_text($status, $answer, $error)];
}
