<?php
// PHPUnit's bootstrap: the Perfex stand-in and the model actions the tests replay.
require __DIR__ . '/../bootstrap.php';
require __DIR__ . '/../perfex_actions.php';
