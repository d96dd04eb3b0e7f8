<?php
/**
 * Version 1.1.0 (#16): no schema change (a payment recorded again, refunds undone and every
 * customer group are new events and fields, not new tables). Perfex's upgrade runs the
 * migration of the new version, so this one exists and re-runs the idempotent install.
 */

defined('BASEPATH') or exit('No direct script access allowed');

class Migration_Version_110 extends App_module_migration
{
    public function up()
    {
        require __DIR__ . '/../install.php';
    }
}
