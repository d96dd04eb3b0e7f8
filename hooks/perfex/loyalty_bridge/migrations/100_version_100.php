<?php
/**
 * Version 1.0.0: the options and the queue table. Later versions add a migration file
 * here (101_version_101.php, class Migration_Version_101) for their schema changes; the
 * install stays idempotent so that an activation after an upgrade is harmless.
 */

defined('BASEPATH') or exit('No direct script access allowed');

class Migration_Version_100 extends App_module_migration
{
    public function up()
    {
        require __DIR__ . '/../install.php';
    }
}
