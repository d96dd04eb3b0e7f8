<?php defined('BASEPATH') or exit('No direct script access allowed');
/*
 * Setup → Settings → Loyalty points. Rendered inside Perfex's settings form: fields named
 * settings[...] are saved by Perfex with update_option().
 */
$loyaltyValue = static fn (string $name): string => htmlspecialchars(loyalty_bridge_option($name), ENT_QUOTES, 'UTF-8');
$loyaltyPaid = loyalty_bridge_paid_statuses();
$loyaltyDobFields = get_instance()->db->where('fieldto', 'customers')->order_by('name', 'ASC')
    ->get(db_prefix() . 'customfields')->result_array();
$loyaltyCsrf = isset(get_instance()->security) && method_exists(get_instance()->security, 'get_csrf_token_name')
    ? [get_instance()->security->get_csrf_token_name() => get_instance()->security->get_csrf_hash()] : [];
?>
<div class="loyalty-bridge-settings">
  <div class="form-group">
    <label for="loyalty_bridge_url"><?= _l('loyalty_bridge_url') ?></label>
    <input type="url" class="form-control" id="loyalty_bridge_url" name="settings[loyalty_bridge_url]"
           value="<?= $loyaltyValue('loyalty_bridge_url') ?>" placeholder="https://loyalty.example.com/loyalty">
    <p class="text-muted"><?= _l('loyalty_bridge_url_help') ?></p>
  </div>
  <div class="form-group">
    <label for="loyalty_bridge_merchant_id"><?= _l('loyalty_bridge_merchant_id') ?></label>
    <input type="text" class="form-control" id="loyalty_bridge_merchant_id" name="settings[loyalty_bridge_merchant_id]"
           value="<?= $loyaltyValue('loyalty_bridge_merchant_id') ?>">
    <p class="text-muted"><?= _l('loyalty_bridge_merchant_id_help') ?></p>
  </div>
  <div class="form-group">
    <label for="loyalty_bridge_secret"><?= _l('loyalty_bridge_secret') ?></label>
    <input type="password" class="form-control" id="loyalty_bridge_secret" name="settings[loyalty_bridge_secret]"
           value="<?= $loyaltyValue('loyalty_bridge_secret') ?>" autocomplete="off">
    <p class="text-muted"><?= _l('loyalty_bridge_secret_help') ?></p>
  </div>
  <div class="form-group">
    <label for="loyalty_bridge_api_key"><?= _l('loyalty_bridge_api_key') ?></label>
    <input type="password" class="form-control" id="loyalty_bridge_api_key" name="settings[loyalty_bridge_api_key]"
           value="<?= $loyaltyValue('loyalty_bridge_api_key') ?>" autocomplete="off">
  </div>
  <div class="form-group">
    <label for="loyalty_bridge_paid_statuses"><?= _l('loyalty_bridge_paid_statuses') ?></label>
    <select class="form-control" id="loyalty_bridge_paid_statuses" name="settings[loyalty_bridge_paid_statuses]">
      <?php foreach (['2' => '2 (paid)', '2,3' => '2 and 3 (paid, partially paid)'] as $loyaltyOption => $loyaltyLabel) { ?>
        <option value="<?= $loyaltyOption ?>" <?= implode(',', $loyaltyPaid) === $loyaltyOption ? 'selected' : '' ?>><?= $loyaltyLabel ?></option>
      <?php } ?>
    </select>
  </div>
  <div class="form-group">
    <label for="loyalty_bridge_dob_field"><?= _l('loyalty_bridge_dob_field') ?></label>
    <select class="form-control" id="loyalty_bridge_dob_field" name="settings[loyalty_bridge_dob_field]">
      <option value=""><?= _l('loyalty_bridge_dob_none') ?></option>
      <?php foreach ($loyaltyDobFields as $loyaltyField) { ?>
        <option value="<?= htmlspecialchars($loyaltyField['slug'], ENT_QUOTES, 'UTF-8') ?>"
          <?= loyalty_bridge_option('loyalty_bridge_dob_field') === $loyaltyField['slug'] ? 'selected' : '' ?>>
          <?= htmlspecialchars($loyaltyField['name'], ENT_QUOTES, 'UTF-8') ?></option>
      <?php } ?>
    </select>
  </div>
  <div class="form-group">
    <label for="loyalty_bridge_birthdays"><?= _l('loyalty_bridge_birthdays') ?></label>
    <select class="form-control" id="loyalty_bridge_birthdays" name="settings[loyalty_bridge_birthdays]">
      <?php foreach (['plugin', 'module'] as $loyaltyOption) { ?>
        <option value="<?= $loyaltyOption ?>" <?= loyalty_bridge_option('loyalty_bridge_birthdays') === $loyaltyOption ? 'selected' : '' ?>>
          <?= _l('loyalty_bridge_birthdays_' . $loyaltyOption) ?></option>
      <?php } ?>
    </select>
  </div>
  <div class="form-group">
    <input type="hidden" name="settings[loyalty_bridge_each_payment]" value="0">
    <label><input type="checkbox" name="settings[loyalty_bridge_each_payment]" value="1"
      <?= loyalty_bridge_option('loyalty_bridge_each_payment') === '1' ? 'checked' : '' ?>>
      <?= _l('loyalty_bridge_each_payment') ?></label>
  </div>
  <hr>
  <button type="button" class="btn btn-default" id="loyalty-bridge-test"><?= _l('loyalty_bridge_test') ?></button>
  <a class="btn btn-link" href="<?= admin_url('loyalty_bridge/queue') ?>"><?= _l('loyalty_bridge_queue') ?></a>
  <div id="loyalty-bridge-test-result" class="mtop15" role="status"></div>
</div>
<script>
  document.getElementById('loyalty-bridge-test').addEventListener('click', function () {
    var result = document.getElementById('loyalty-bridge-test-result');
    var body = new URLSearchParams(<?= json_encode((object) $loyaltyCsrf) ?>);
    result.className = 'mtop15';
    result.textContent = '…';
    fetch(<?= json_encode(admin_url('loyalty_bridge/test')) ?>, {method: 'POST', body: body, credentials: 'same-origin'})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        result.className = 'mtop15 alert ' + (answer.ok ? 'alert-success' : 'alert-danger');
        result.textContent = answer.messages.join(' ');
      })
      .catch(function (error) {
        result.className = 'mtop15 alert alert-danger';
        result.textContent = String(error);
      });
  });
</script>
