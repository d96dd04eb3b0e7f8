<?php defined('BASEPATH') or exit('No direct script access allowed'); ?>
<?php init_head(); ?>
<div id="wrapper">
  <div class="content">
    <h4><?= htmlspecialchars($title, ENT_QUOTES, 'UTF-8') ?></h4>
    <div class="panel_s"><div class="panel-body">
    <?php if (!$rows) { ?>
      <p><?= _l('loyalty_bridge_queue_empty') ?></p>
    <?php } else { ?>
      <table class="table">
        <thead><tr>
          <th><?= _l('loyalty_bridge_event') ?></th><th><?= _l('loyalty_bridge_status') ?></th>
          <th><?= _l('loyalty_bridge_attempts') ?></th><th><?= _l('loyalty_bridge_next_attempt') ?></th>
          <th><?= _l('loyalty_bridge_last_error') ?></th><th></th>
        </tr></thead>
        <tbody>
        <?php foreach ($rows as $row) { ?>
          <tr>
            <td><?= htmlspecialchars($row['event_type'] . ' · ' . $row['webhook_id'], ENT_QUOTES, 'UTF-8') ?></td>
            <td><?= htmlspecialchars($row['status'], ENT_QUOTES, 'UTF-8') ?></td>
            <td><?= (int) $row['attempts'] ?></td>
            <td><?= $row['status'] === 'pending' ? htmlspecialchars($row['next_attempt_at'], ENT_QUOTES, 'UTF-8') : '' ?></td>
            <td><?= htmlspecialchars((string) $row['last_error'], ENT_QUOTES, 'UTF-8') ?></td>
            <td>
              <?= form_open(admin_url('loyalty_bridge/retry/' . (int) $row['id'])) ?>
                <button type="submit" class="btn btn-default btn-xs"><?= _l('loyalty_bridge_retry') ?></button>
              <?= form_close() ?>
            </td>
          </tr>
        <?php } ?>
        </tbody>
      </table>
    <?php } ?>
    </div></div>
  </div>
</div>
<?php init_tail(); ?>
