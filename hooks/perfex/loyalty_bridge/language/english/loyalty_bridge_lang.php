<?php

defined('BASEPATH') or exit('No direct script access allowed');

$lang['loyalty_bridge'] = 'Loyalty';
$lang['loyalty_bridge_settings'] = 'Loyalty points';
$lang['loyalty_bridge_url'] = 'Loyalty plugin URL';
$lang['loyalty_bridge_url_help'] = 'The plugin\'s address with its prefix, e.g. https://loyalty.example.com/loyalty';
$lang['loyalty_bridge_merchant_id'] = 'Merchant id';
$lang['loyalty_bridge_merchant_id_help'] = 'Leave empty for the plugin\'s default merchant.';
$lang['loyalty_bridge_secret'] = 'Webhook secret';
$lang['loyalty_bridge_secret_help'] = 'whsec_... as printed by "loyalty secrets create".';
$lang['loyalty_bridge_api_key'] = 'API key';
$lang['loyalty_bridge_paid_statuses'] = 'Invoice statuses that count as paid';
$lang['loyalty_bridge_dob_field'] = 'Custom field with the date of birth';
$lang['loyalty_bridge_dob_none'] = 'None';
$lang['loyalty_bridge_birthdays'] = 'Birthday bonus given by';
$lang['loyalty_bridge_birthdays_plugin'] = 'The loyalty plugin\'s own job';
$lang['loyalty_bridge_birthdays_module'] = 'This module, from Perfex\'s cron';
$lang['loyalty_bridge_each_payment'] = 'Send every payment (only for programs that earn on each payment)';
$lang['loyalty_bridge_test'] = 'Send a test event';
$lang['loyalty_bridge_test_not_configured'] = 'Fill in the plugin URL and the webhook secret, and save, first.';
$lang['loyalty_bridge_test_ok'] = 'The plugin answered and accepted the signature: URL, merchant, secret and clock are right.';
$lang['loyalty_bridge_test_unreachable'] = 'The plugin could not be reached at the URL:';
$lang['loyalty_bridge_test_signature'] = 'The plugin refused the signature (check the merchant id, the secret and the server clock):';
$lang['loyalty_bridge_test_not_found'] = 'Nothing answers webhooks at this address (check the URL and its prefix):';
$lang['loyalty_bridge_test_unexpected'] = 'The plugin answered unexpectedly:';
$lang['loyalty_bridge_test_key_ok'] = 'The API key is accepted.';
$lang['loyalty_bridge_test_key_bad'] = 'The API key is refused:';
$lang['loyalty_bridge_queue'] = 'Loyalty event queue';
$lang['loyalty_bridge_queue_empty'] = 'Every event has been delivered.';
$lang['loyalty_bridge_event'] = 'Event';
$lang['loyalty_bridge_status'] = 'Status';
$lang['loyalty_bridge_attempts'] = 'Attempts';
$lang['loyalty_bridge_next_attempt'] = 'Next attempt';
$lang['loyalty_bridge_last_error'] = 'Last error';
$lang['loyalty_bridge_retry'] = 'Retry now';
$lang['loyalty_bridge_retried'] = 'The event will be sent at the next delivery.';
