<?php defined('BASEPATH') or exit('No direct script access allowed');
/*
 * The "pay with points" box: the points the customer can use on this invoice and their
 * value, and the button. $offer: loyalty_bridge_points_offer(); $action: where to POST.
 */
?>
<div class="loyalty-bridge-points">
  <?php if ($offer === null) { ?>
    <p class="text-muted"><?= _l('loyalty_bridge_nothing_to_pay') ?></p>
  <?php } elseif (isset($offer['error'])) { ?>
    <p class="text-muted"><?= _l('loyalty_bridge_points_unavailable') ?></p>
  <?php } elseif ($offer['points'] <= 0) { ?>
    <p><?= sprintf(_l('loyalty_bridge_points_balance'), (int) $offer['balance']) ?> <?= _l('loyalty_bridge_no_points') ?></p>
  <?php } else { ?>
    <p><?= sprintf(_l('loyalty_bridge_points_offer'), (int) $offer['points'],
        htmlspecialchars($offer['amount'] . ' ' . $offer['currency'], ENT_QUOTES, 'UTF-8')) ?></p>
    <?= form_open($action) ?>
      <button type="submit" class="btn btn-primary"><?= _l('loyalty_bridge_pay_with_points') ?></button>
    <?= form_close() ?>
  <?php } ?>
</div>
