-- hybridpref 0.1.0 -> 0.2.0: operations (docs/operations.md): hp.route_pending,
-- the budget ledger hp.route_ledger and the dashboard views.  0.2.0 added one
-- part, sql/parts/90_ops.sql; this script is assembled by make from this header and that part (while 0.2.0
-- is unreleased).  test/tap/t/012_upgrade.pl checks that 0.1.0 updated to
-- 0.2.0 has the same catalog as a fresh 0.2.0 and that stored models survive.
\echo Use "ALTER EXTENSION hybridpref UPDATE TO '0.2.0'" to load this file. \quit
