-- The Perfex CRM tables the loyalty_bridge module reads, with Perfex's own column types
-- (signed INT(11) keys, DECIMAL(15,2) money, utf8mb4), created in a MariaDB database by
-- tests/perfex/bootstrap.php. Columns the module never reads are left out.
CREATE TABLE tbloptions (
  id INT(11) NOT NULL AUTO_INCREMENT, name VARCHAR(191) NOT NULL, value LONGTEXT NOT NULL,
  autoload TINYINT(1) NOT NULL DEFAULT 1, PRIMARY KEY (id), UNIQUE KEY name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblcurrencies (
  id INT(11) NOT NULL AUTO_INCREMENT, symbol VARCHAR(10) NOT NULL, name VARCHAR(100) NOT NULL,
  decimal_separator VARCHAR(5) NULL, thousand_separator VARCHAR(5) NULL,
  placement VARCHAR(10) NULL, isdefault TINYINT(1) NOT NULL DEFAULT 0, PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblclients (
  userid INT(11) NOT NULL AUTO_INCREMENT, company VARCHAR(191) NULL, vat VARCHAR(50) NULL,
  phonenumber VARCHAR(30) NULL, country INT(11) NOT NULL DEFAULT 0, city VARCHAR(100) NULL,
  zip VARCHAR(15) NULL, state VARCHAR(50) NULL, address VARCHAR(191) NULL,
  datecreated DATETIME NOT NULL, active INT(11) NOT NULL DEFAULT 1,
  default_currency INT(11) NOT NULL DEFAULT 0, PRIMARY KEY (userid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblcontacts (
  id INT(11) NOT NULL AUTO_INCREMENT, userid INT(11) NOT NULL, is_primary INT(11) NOT NULL DEFAULT 1,
  firstname VARCHAR(191) NOT NULL, lastname VARCHAR(191) NOT NULL, email VARCHAR(100) NOT NULL,
  phonenumber VARCHAR(100) NOT NULL, title VARCHAR(100) NULL, datecreated DATETIME NOT NULL,
  password VARCHAR(255) NULL, active TINYINT(1) NOT NULL DEFAULT 1, PRIMARY KEY (id), KEY userid (userid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblcustomers_groups (
  id INT(11) NOT NULL AUTO_INCREMENT, name VARCHAR(191) NOT NULL, PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblcustomer_groups (
  id INT(11) NOT NULL AUTO_INCREMENT, groupid INT(11) NOT NULL, customer_id INT(11) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblinvoices (
  id INT(11) NOT NULL AUTO_INCREMENT, sent TINYINT(1) NOT NULL DEFAULT 0, clientid INT(11) NOT NULL,
  number INT(11) NOT NULL, prefix VARCHAR(50) NULL, number_format INT(11) NOT NULL DEFAULT 0,
  datecreated DATETIME NOT NULL, date DATE NOT NULL, duedate DATE NULL, currency INT(11) NOT NULL,
  subtotal DECIMAL(15,2) NOT NULL, total_tax DECIMAL(15,2) NOT NULL DEFAULT 0.00,
  total DECIMAL(15,2) NOT NULL, adjustment DECIMAL(15,2) NULL, status INT(11) NULL DEFAULT 1,
  discount_percent DECIMAL(15,2) NULL DEFAULT 0.00, discount_total DECIMAL(15,2) NULL DEFAULT 0.00,
  discount_type VARCHAR(30) NOT NULL DEFAULT '', hash VARCHAR(32) NOT NULL DEFAULT '',
  PRIMARY KEY (id), KEY clientid (clientid), KEY status (status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblitemable (
  id INT(11) NOT NULL AUTO_INCREMENT, rel_id INT(11) NOT NULL, rel_type VARCHAR(15) NOT NULL,
  description MEDIUMTEXT NOT NULL, long_description MEDIUMTEXT NULL,
  qty DECIMAL(15,2) NOT NULL, rate DECIMAL(15,2) NOT NULL, unit VARCHAR(40) NULL,
  item_order INT(11) NULL, PRIMARY KEY (id), KEY rel_id (rel_id), KEY rel_type (rel_type)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblitems (
  id INT(11) NOT NULL AUTO_INCREMENT, description MEDIUMTEXT NOT NULL, long_description TEXT NULL,
  rate DECIMAL(15,2) NOT NULL, tax INT(11) NULL, tax2 INT(11) NULL, unit VARCHAR(40) NULL,
  group_id INT(11) NOT NULL DEFAULT 0, PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblitems_groups (
  id INT(11) NOT NULL AUTO_INCREMENT, name VARCHAR(50) NOT NULL, PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblinvoicepaymentrecords (
  id INT(11) NOT NULL AUTO_INCREMENT, invoiceid INT(11) NOT NULL, amount DECIMAL(15,2) NOT NULL,
  paymentmode VARCHAR(40) NULL, paymentmethod VARCHAR(191) NULL, date DATE NOT NULL,
  daterecorded DATETIME NOT NULL, note TEXT NULL, transactionid MEDIUMTEXT NULL,
  PRIMARY KEY (id), KEY invoiceid (invoiceid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblcreditnotes (
  id INT(11) NOT NULL AUTO_INCREMENT, clientid INT(11) NOT NULL, number INT(11) NOT NULL,
  prefix VARCHAR(50) NULL, datecreated DATETIME NOT NULL, date DATE NOT NULL, currency INT(11) NOT NULL,
  subtotal DECIMAL(15,2) NOT NULL, total_tax DECIMAL(15,2) NOT NULL DEFAULT 0.00,
  total DECIMAL(15,2) NOT NULL, adjustment DECIMAL(15,2) NULL, status INT(11) NULL DEFAULT 1,
  reference_no VARCHAR(100) NULL, PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblcredits (
  id INT(11) NOT NULL AUTO_INCREMENT, invoice_id INT(11) NOT NULL, credit_id INT(11) NOT NULL,
  staff_id INT(11) NOT NULL, date DATE NOT NULL, date_applied DATETIME NOT NULL,
  amount DECIMAL(15,2) NOT NULL, PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblcreditnote_refunds (
  id INT(11) NOT NULL AUTO_INCREMENT, credit_note_id INT(11) NOT NULL, staff_id INT(11) NOT NULL,
  refunded_on DATE NOT NULL, payment_mode VARCHAR(40) NOT NULL, note TEXT NULL,
  amount DECIMAL(15,2) NOT NULL, created_at DATETIME NULL, PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblcustomfields (
  id INT(11) NOT NULL AUTO_INCREMENT, fieldto VARCHAR(30) NULL, name VARCHAR(150) NOT NULL,
  slug VARCHAR(150) NOT NULL, required TINYINT(1) NOT NULL DEFAULT 0, type VARCHAR(20) NOT NULL,
  options LONGTEXT NULL, field_order INT(11) NULL DEFAULT 0, active INT(11) NOT NULL DEFAULT 1,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblcustomfieldsvalues (
  id INT(11) NOT NULL AUTO_INCREMENT, relid INT(11) NOT NULL, fieldid INT(11) NOT NULL,
  fieldto VARCHAR(15) NOT NULL, value TEXT NOT NULL, PRIMARY KEY (id), KEY relid (relid),
  KEY fieldid (fieldid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblpayment_modes (
  id INT(11) NOT NULL AUTO_INCREMENT, name MEDIUMTEXT NOT NULL, description MEDIUMTEXT NULL,
  show_on_pdf INT(11) NOT NULL DEFAULT 0, invoices_only INT(11) NOT NULL DEFAULT 0,
  expenses_only INT(11) NOT NULL DEFAULT 0, selected_by_default INT(11) NOT NULL DEFAULT 1,
  active TINYINT(1) NOT NULL DEFAULT 1, PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE tblstaff (
  staffid INT(11) NOT NULL AUTO_INCREMENT, email VARCHAR(100) NOT NULL, firstname VARCHAR(50) NOT NULL,
  lastname VARCHAR(50) NOT NULL, admin INT(11) NOT NULL DEFAULT 0, active INT(11) NOT NULL DEFAULT 1,
  PRIMARY KEY (staffid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
