<?php
/**
 * The only stand-in for Perfex CRM in the tests: the few Perfex and CodeIgniter functions
 * the loyalty_bridge module calls, over a real MariaDB database holding Perfex's tables
 * (perfex_schema.sql). Nothing else of Perfex is imitated:
 *
 * - hooks() with add_action / do_action (Perfex's hook registry, one argument per action);
 * - get_option / add_option / update_option / delete_option over tbloptions;
 * - db_prefix() ("tbl"), get_instance()->db: CodeIgniter 3's query builder methods the
 *   module uses (where, where_in, like, order_by, limit, get, update, query with ?
 *   bindings, affected_rows, table_exists), each a PDO prepared statement;
 * - get_instance()->load->model() (a no-op: tests/perfex/perfex_actions.php puts the
 *   payments model, what Payments_model::add does, on the instance);
 * - who is signed in, as $GLOBALS['perfex_user'] says (is_admin, staff_can,
 *   get_staff_user_id, is_client_logged_in, get_client_user_id), and what the module adds
 *   to Perfex's menus and settings, recorded in $GLOBALS['perfex_ui'] ($CI->app_menu,
 *   $CI->app / $CI->app_tabs, add_theme_menu_item, register_staff_capabilities);
 * - register_activation_hook & co. (kept, so a test can activate the module), _l() over the
 *   module's language file, log_message(), admin_url(), form_open()/form_close() (without
 *   the CSRF field), init_head()/init_tail() (the admin layout, left out), and an empty
 *   App_module_migration
 *   (the base class of module migrations).
 *
 * The database: PERFEX_TEST_DSN (a PDO MySQL DSN), user root without password.
 */

declare(strict_types=1);

define('BASEPATH', __DIR__);
date_default_timezone_set('UTC');
const PERFEX_MODULE_DIR = __DIR__ . '/../../hooks/perfex/loyalty_bridge';

final class StandInResult
{
    public function __construct(private array $rows)
    {
    }

    public function result_array(): array
    {
        return $this->rows;
    }

    public function row_array(): ?array
    {
        return $this->rows[0] ?? null;
    }
}

/** CodeIgniter 3's query builder, the part the module calls, over PDO. */
final class StandInDb
{
    public PDO $pdo;
    private array $wheres = [];
    private array $bindings = [];
    private array $orders = [];
    private ?int $limit = null;
    private int $affected = 0;

    public function __construct(string $dsn)
    {
        $this->pdo = new PDO($dsn, 'root', '', [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
    }

    public function where($key, $value = null): self
    {
        foreach (is_array($key) ? $key : [$key => $value] as $column => $v) {
            $parts = explode(' ', trim($column), 2);
            $this->wheres[] = $this->quote($parts[0]) . ' ' . ($parts[1] ?? '=') . ' ?';
            $this->bindings[] = $v;
        }
        return $this;
    }

    public function where_in(string $column, array $values): self
    {
        $this->wheres[] = $this->quote($column) . ' IN (' . implode(',', array_fill(0, count($values), '?')) . ')';
        array_push($this->bindings, ...$values);
        return $this;
    }

    public function like(string $column, string $match, string $side = 'both'): self
    {
        $escaped = addcslashes($match, '%_\\');
        $this->wheres[] = $this->quote($column) . ' LIKE ?';
        $this->bindings[] = ($side === 'after' ? '' : '%') . $escaped . ($side === 'before' ? '' : '%');
        return $this;
    }

    public function order_by(string $column, string $direction = 'ASC'): self
    {
        $this->orders[] = $this->quote($column) . (strtoupper($direction) === 'DESC' ? ' DESC' : ' ASC');
        return $this;
    }

    public function limit(int $limit): self
    {
        $this->limit = $limit;
        return $this;
    }

    public function get(string $table): StandInResult
    {
        $sql = 'SELECT * FROM ' . $this->quote($table) . $this->whereSql();
        $sql .= $this->orders ? ' ORDER BY ' . implode(', ', $this->orders) : '';
        $sql .= $this->limit !== null ? ' LIMIT ' . $this->limit : '';
        return $this->query($sql, $this->reset());
    }

    public function insert(string $table, array $row): bool
    {
        $columns = implode(', ', array_map([$this, 'quote'], array_keys($row)));
        $marks = implode(', ', array_fill(0, count($row), '?'));
        return (bool) $this->query("INSERT INTO {$this->quote($table)} ($columns) VALUES ($marks)", array_values($row));
    }

    public function update(string $table, array $changes): bool
    {
        $sets = implode(', ', array_map(fn ($c) => $this->quote($c) . ' = ?', array_keys($changes)));
        $where = $this->whereSql();
        return (bool) $this->query("UPDATE {$this->quote($table)} SET $sets$where", [...array_values($changes), ...$this->reset()]);
    }

    public function delete(string $table): bool
    {
        $where = $this->whereSql();
        return (bool) $this->query("DELETE FROM {$this->quote($table)}$where", $this->reset());
    }

    /** query() with ? bindings: a result for a SELECT, true for a write. */
    public function query(string $sql, array $bindings = [])
    {
        $statement = $this->pdo->prepare($sql);
        $statement->execute(array_map(fn ($v) => is_bool($v) ? (int) $v : $v, $bindings));
        $this->affected = $statement->rowCount();
        if ($statement->columnCount() > 0) {
            return new StandInResult($statement->fetchAll(PDO::FETCH_ASSOC));
        }
        return true;
    }

    public function affected_rows(): int
    {
        return $this->affected;
    }

    public function insert_id(): int
    {
        return (int) $this->pdo->lastInsertId();
    }

    public function table_exists(string $table): bool
    {
        return (bool) $this->query('SHOW TABLES LIKE ?', [$table])->row_array();
    }

    private function whereSql(): string
    {
        return $this->wheres ? ' WHERE ' . implode(' AND ', $this->wheres) : '';
    }

    private function reset(): array
    {
        $bindings = $this->bindings;
        $this->wheres = $this->bindings = $this->orders = [];
        $this->limit = null;
        return $bindings;
    }

    private function quote(string $name): string
    {
        return implode('.', array_map(fn ($part) => '`' . str_replace('`', '``', $part) . '`', explode('.', $name)));
    }
}

class App_module_migration
{
}

/** Records every call made on it in $GLOBALS['perfex_ui'][name][method]. */
final class StandInRecorder
{
    public function __construct(private string $name)
    {
    }

    public function __call(string $method, array $arguments): self
    {
        $GLOBALS['perfex_ui'][$this->name][$method][] = $arguments;
        return $this;
    }
}

/** $CI->app of Perfex 3.2: settings sections (older versions have no such method). */
final class StandInApp
{
    public function add_settings_section_child(string $parent, string $id, array $data): void
    {
        $GLOBALS['perfex_ui']['settings_section']['add_settings_section_child'][] = [$parent, $id, $data];
    }
}

function perfex_user(string $key)
{
    return $GLOBALS['perfex_user'][$key] ?? null;
}

function is_admin(): bool
{
    return (bool) perfex_user('admin');
}

function staff_can(string $capability, string $feature): bool
{
    return in_array("$feature:$capability", perfex_user('capabilities') ?? [], true);
}

function get_staff_user_id(): int
{
    return (int) perfex_user('staff_id');
}

function is_client_logged_in(): bool
{
    return perfex_user('client_id') !== null;
}

function get_client_user_id(): int
{
    return (int) perfex_user('client_id');
}

function add_theme_menu_item(string $id, array $item): void
{
    $GLOBALS['perfex_ui']['theme_menu'][$id] = $item;
}

function register_staff_capabilities(string $feature, array $config, string $name): void
{
    $GLOBALS['perfex_ui']['capabilities'][$feature] = array_keys($config['capabilities']);
}

function site_url(string $path = ''): string
{
    return 'http://perfex.test/' . $path;
}

/** Perfex's hook registry: actions by tag, called in priority order with one argument. */
final class StandInHooks
{
    public array $actions = [];

    public function add_action(string $tag, callable $callback, int $priority = 10, int $acceptedArgs = 1): void
    {
        $this->actions[$tag][$priority][] = $callback;
    }

    public function do_action(string $tag, $argument = ''): void
    {
        $byPriority = $this->actions[$tag] ?? [];
        ksort($byPriority);
        foreach ($byPriority as $callbacks) {
            foreach ($callbacks as $callback) {
                $callback($argument);
            }
        }
    }
}

function hooks(): StandInHooks
{
    static $hooks = null;
    return $hooks ??= new StandInHooks();
}

function &get_instance(): object
{
    static $instance = null;
    if ($instance === null) {
        $instance = new stdClass();
        $instance->db = new StandInDb((string) getenv('PERFEX_TEST_DSN'));
        $instance->app_menu = new StandInRecorder('menu');
        $instance->app_tabs = new StandInRecorder('settings_tab');
        $instance->app = new StandInApp();
        $instance->load = new class () {
            public function model(string $name): void
            {
            }
        };
    }
    return $instance;
}

function db_prefix(): string
{
    return 'tbl';
}

function get_option(string $name): string
{
    $row = get_instance()->db->where('name', $name)->get('tbloptions')->row_array();
    return $row === null ? '' : (string) $row['value'];
}

function add_option(string $name, $value = '', int $autoload = 1): bool
{
    get_instance()->db->query('INSERT IGNORE INTO tbloptions (name, value, autoload) VALUES (?, ?, ?)', [$name, (string) $value, $autoload]);
    return get_instance()->db->affected_rows() === 1;
}

function update_option(string $name, $value, ?int $autoload = null): bool
{
    get_instance()->db->query(
        'INSERT INTO tbloptions (name, value, autoload) VALUES (?, ?, 1) ON DUPLICATE KEY UPDATE value = VALUES(value)',
        [$name, (string) $value]
    );
    return true;
}

function delete_option(string $name): bool
{
    return get_instance()->db->where('name', $name)->delete('tbloptions');
}

/** Module registration functions: the callbacks are kept in $GLOBALS['perfex_module_hooks']. */
function register_activation_hook(string $module, callable|string $callback): void
{
    $GLOBALS['perfex_module_hooks'][$module]['activate'] = $callback;
}

function register_deactivation_hook(string $module, callable|string $callback): void
{
    $GLOBALS['perfex_module_hooks'][$module]['deactivate'] = $callback;
}

function register_uninstall_hook(string $module, callable|string $callback): void
{
    $GLOBALS['perfex_module_hooks'][$module]['uninstall'] = $callback;
}

function register_language_files(string $module, array $files): void
{
}

function _l(string $key): string
{
    static $lang = null;
    if ($lang === null) {
        $lang = [];
        include PERFEX_MODULE_DIR . '/language/english/loyalty_bridge_lang.php';
    }
    return $lang[$key] ?? $key;
}

function log_message(string $level, string $message): void
{
    $GLOBALS['perfex_log'][] = "$level: $message";
}

function admin_url(string $path = ''): string
{
    return 'http://perfex.test/admin/' . $path;
}

/**
 * Perfex's tables, empty, with the module loaded and activated (install.php). The tables
 * are created once per process and emptied for each test after that.
 */
function perfex_fresh_database(): void
{
    static $created = false;
    $db = get_instance()->db;
    if ($created) {
        $db->query('DROP TABLE IF EXISTS tblloyalty_bridge_queue');
        foreach ($db->query('SHOW TABLES')->result_array() as $row) {
            $db->query('TRUNCATE TABLE `' . str_replace('`', '', (string) array_values($row)[0]) . '`');
        }
    } else {
        foreach ($db->query('SHOW TABLES')->result_array() as $row) {
            $db->query('DROP TABLE `' . str_replace('`', '', (string) array_values($row)[0]) . '`');
        }
        foreach (array_filter(array_map('trim', explode(';', file_get_contents(__DIR__ . '/perfex_schema.sql')))) as $sql) {
            $lines = array_filter(explode("\n", $sql), fn ($line) => !str_starts_with(trim($line), '--'));
            if ($lines) {
                $db->query(implode("\n", $lines));
            }
        }
        $created = true;
    }
    require_once PERFEX_MODULE_DIR . '/loyalty_bridge.php';
    ($GLOBALS['perfex_module_hooks']['loyalty_bridge']['activate'])();
}

function form_open(string $action): string
{
    return '<form method="post" action="' . htmlspecialchars($action, ENT_QUOTES, 'UTF-8') . '">';
}

function form_close(): string
{
    return '</form>';
}

function init_head(): void
{
}

function init_tail(): void
{
}
