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
