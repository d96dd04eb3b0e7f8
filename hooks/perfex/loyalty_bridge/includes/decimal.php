<?php
/**
 * Money as decimal strings, never PHP floats: Perfex's DECIMAL(15,2) columns arrive from
 * the database as strings, and they leave in the JSON as strings. Arithmetic is done on
 * integer hundredths (cents), which holds every DECIMAL(15,2) exactly.
 */

defined('BASEPATH') or exit('No direct script access allowed');

/** "125.5", "125.50" or 125 to integer hundredths; refuses floats and more than 2 places. */
function loyalty_bridge_cents($value): int
{
    if (is_int($value)) {
        return $value * 100;
    }
    if (!is_string($value) || !preg_match('/^(-?)(\d+)(?:\.(\d+))?$/', trim($value), $m)) {
        throw new InvalidArgumentException('not a decimal string: ' . var_export($value, true));
    }
    $fraction = rtrim($m[3] ?? '', '0');
    if (strlen($fraction) > 2) {
        throw new InvalidArgumentException('more than 2 decimal places: ' . $value);
    }
    $cents = (int) $m[2] * 100 + (int) str_pad($fraction, 2, '0');
    return $m[1] === '-' ? -$cents : $cents;
}

/** Integer hundredths to a decimal string with 2 places ("125.50"). */
function loyalty_bridge_money(int $cents): string
{
    $sign = $cents < 0 ? '-' : '';
    $cents = abs($cents);
    return $sign . intdiv($cents, 100) . '.' . str_pad((string) ($cents % 100), 2, '0', STR_PAD_LEFT);
}

/** A DECIMAL column's value as a normalised decimal string ("10" -> "10.00"). */
function loyalty_bridge_decimal($value): string
{
    return loyalty_bridge_money(loyalty_bridge_cents($value ?? '0'));
}

/** qty x rate, exact, as a decimal string with 2 or 4 places (null past 64-bit range). */
function loyalty_bridge_line_total($qty, $rate): ?string
{
    $product = loyalty_bridge_cents($qty) * loyalty_bridge_cents($rate);  // 4 places
    if (!is_int($product)) {
        return null;
    }
    $sign = $product < 0 ? '-' : '';
    $product = abs($product);
    $fraction = str_pad((string) ($product % 10000), 4, '0', STR_PAD_LEFT);
    if (substr($fraction, 2) === '00') {
        $fraction = substr($fraction, 0, 2);
    }
    return $sign . intdiv($product, 10000) . '.' . $fraction;
}
