<?php defined('BASEPATH') or exit('No direct script access allowed'); ?>
<?php init_head(); ?>
<div id="wrapper">
  <div class="content">
    <h4><?= htmlspecialchars($title, ENT_QUOTES, 'UTF-8') ?></h4>
    <div class="panel_s"><div class="panel-body">
      <?php $this->load->view(LOYALTY_BRIDGE_MODULE . '/points_box', ['offer' => $offer,
          'action' => admin_url('loyalty_bridge/points/' . (int) $invoice_id)]); ?>
      <a href="<?= admin_url('invoices/list_invoices/' . (int) $invoice_id) ?>"><?= _l('back') ?></a>
    </div></div>
  </div>
</div>
<?php init_tail(); ?>
