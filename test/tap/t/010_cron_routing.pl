# 010_cron_routing.pl: hp.route_pending scheduled with pg_cron while clients
# insert rows.
#
# A node with pg_cron preloaded runs the routing job (every 2 seconds where
# pg_cron has second schedules, 1.5 and later; every minute with Debian 12's
# pg_cron 1.4, the test then waits for the next minute) while a background
# session inserts rows.  After the inserts stop, the job is unscheduled and
# one final run routes what is left.  Then: no row is unrouted, an audit
# trigger saw each row routed exactly once, the ledger totals equal the
# table's counts, and no budget period spent more than its budget.
use strict;
use warnings;

use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $budget = 40;    # human labels per day

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', join("\n",
	"shared_preload_libraries = 'pg_cron'",
	"cron.database_name = 'postgres'",
	"cron.host = '" . $node->host . "'", ''));
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION hybridpref;
	CREATE EXTENSION pg_cron;
	-- A PPM over three features, for datasets of 10 rows:
	-- f(v) = 0.5 - 0.2 v_long + 0.3 v_code + 0.1 v_math.
	CREATE TABLE ppms (created timestamptz NOT NULL DEFAULT now(), m hp.model NOT NULL);
	INSERT INTO ppms (m)
	SELECT hp.train_ppm(ARRAY[a, b, c]::float8[], 0.5 - 0.2 * a / 10 + 0.3 * b / 10 + 0.1 * c / 10,
	         '{"vocab": ["len:long", "subject:code", "subject:math"], "n": 10, "lambda": 1e-9}')
	FROM generate_series(0.0, 10.0, 2.0) a, generate_series(0.0, 10.0, 2.0) b,
	     generate_series(0.0, 10.0, 2.0) c;
	CREATE TABLE prefs (id bigserial PRIMARY KEY, features text[], subject text, route text);
	CREATE INDEX prefs_pending ON prefs (id) WHERE route IS NULL;
	-- Every change of route, to count how often each row was routed.
	CREATE TABLE audit (id bigint, old_route text, new_route text);
	CREATE FUNCTION audit_route() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO audit VALUES (NEW.id, OLD.route, NEW.route);
		RETURN NEW;
	END $$;
	CREATE TRIGGER audit_route AFTER UPDATE OF route ON prefs
		FOR EACH ROW WHEN (OLD.route IS DISTINCT FROM NEW.route) EXECUTE FUNCTION audit_route();
	CREATE FUNCTION random_features() RETURNS text[] LANGUAGE sql VOLATILE
	RETURN ARRAY(SELECT f FROM unnest('{len:long,subject:code,subject:math}'::text[]) f
	             WHERE random() < 0.4);
	CREATE TABLE stop_inserting (x int);
	-- A second router, an ordinary role, routes the same table by hand.
	CREATE ROLE router2 LOGIN;
	GRANT SELECT, UPDATE ON prefs TO router2;
	GRANT SELECT ON ppms, stop_inserting TO router2;
	GRANT INSERT ON audit TO router2;
	INSERT INTO prefs (features, subject)
	SELECT random_features(), (ARRAY['code', 'math', NULL])[1 + i % 3] FROM generate_series(1, 300) i;
});

# CALL arguments cannot hold subqueries: the job reads the newest PPM in a
# DO block, whose CALL may still COMMIT after each batch.
my $job = q{DO $job$
DECLARE m hp.model;
BEGIN
	SELECT p.m INTO m FROM ppms p ORDER BY p.created DESC LIMIT 1;
	CALL hp.route_pending('prefs', m, } . $budget . q{, 'day', batch_size => 50, tag_col => 'subject');
END $job$};

# Second schedules need pg_cron 1.5; fall back to every minute.
my ($rc, $out, $err) = $node->psql('postgres', q{SELECT cron.schedule('probe', '2 seconds', 'SELECT 1')});
my ($schedule, $runs_wanted, $wait_s);
if ($rc == 0)
{
	$node->safe_psql('postgres', q{SELECT cron.unschedule('probe')});
	($schedule, $runs_wanted, $wait_s) = ('2 seconds', 3, 30);
}
else
{
	like($err, qr/invalid schedule/, 'this pg_cron has no second schedules: routing every minute');
	($schedule, $runs_wanted, $wait_s) = ('* * * * *', 1, 75);
}
my $jobid = $node->safe_psql('postgres',
	"SELECT cron.schedule('route-prefs', '$schedule', \$cron\$$job\$cron\$)");
ok($jobid > 0, "routing job scheduled ($schedule)");

# A client inserts small transactions of rows until told to stop.
my $inserter_sql = q{DO $ins$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	LOOP
		INSERT INTO prefs (features, subject)
		SELECT random_features(), (ARRAY['code', 'math', NULL])[1 + (random() * 2)::int]
		FROM generate_series(1, 1 + (random() * 8)::int);
		COMMIT;
		EXIT WHEN EXISTS (SELECT FROM stop_inserting) OR clock_timestamp() > t0 + interval '150 s';
		PERFORM pg_sleep(0.02);
	END LOOP;
END $ins$};
my ($in_out, $in_err) = ('', '');
my $inserter = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', $inserter_sql ],
	'>', \$in_out, '2>', \$in_err);

# Meanwhile an ordinary role routes the same table every 0.2 s, so its runs
# overlap the cron runs (rows locked by one are skipped by the other) and
# share the day's budget with them.
my $manual_sql = q{DO $man$
DECLARE m hp.model; t0 timestamptz := clock_timestamp();
BEGIN
	SELECT p.m INTO m FROM ppms p ORDER BY p.created DESC LIMIT 1;
	LOOP
		CALL hp.route_pending('prefs', m, } . $budget . q{, 'day', batch_size => 20, tag_col => 'subject',
		                      batch_delay => 0.01);
		EXIT WHEN EXISTS (SELECT FROM stop_inserting) OR clock_timestamp() > t0 + interval '150 s';
		PERFORM pg_sleep(0.2);
	END LOOP;
END $man$};
my ($man_out, $man_err) = ('', '');
my $manual = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') . ' user=router2',
	  '-c', $manual_sql ],
	'>', \$man_out, '2>', \$man_err);

# Wait for the job to have routed rows $runs_wanted times.
my $routed_by_cron = 0;
for (my $waited = 0; $waited < $wait_s * 10; $waited++)
{
	$routed_by_cron = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM cron.job_run_details WHERE jobid = $jobid AND status = 'succeeded'});
	last if $routed_by_cron >= $runs_wanted;
	usleep(100_000);
}
cmp_ok($routed_by_cron, '>=', $runs_wanted, "the cron job ran $runs_wanted time(s) while rows were inserted");
my $ledger_runs = $node->safe_psql('postgres',
	q{SELECT count(*) FROM hp.route_runs WHERE routed_by <> 'router2'});
cmp_ok($ledger_runs, '>=', 1, 'cron runs routed rows (ledger has runs of the cron user)');

# Stop inserting and scheduling; wait for a job still running to end.
$node->safe_psql('postgres', 'INSERT INTO stop_inserting VALUES (1)');
$inserter->finish;
is($in_err, '', 'inserter ran without errors');
$manual->finish;
unlike($man_err, qr/ERROR|WARNING/, 'the manual router ran without errors');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM hp.route_runs WHERE routed_by = 'router2'}),
	'>', 0, 'the manual router routed rows too');
$node->safe_psql('postgres', q{SELECT cron.unschedule('route-prefs')});
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE '%hp.route_pending%' AND pid <> pg_backend_pid()})
  or die 'a routing run did not end';
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM cron.job_run_details WHERE jobid = $jobid AND status <> 'succeeded'}),
	'0', 'no cron run failed');

# The final run.
$node->safe_psql('postgres', $job);

my $total = $node->safe_psql('postgres', 'SELECT count(*) FROM prefs');
cmp_ok($total, '>', 300, "clients inserted rows while routing ran ($total rows in all)");
is($node->safe_psql('postgres', 'SELECT count(*) FROM prefs WHERE route IS NULL'),
	'0', 'no row is left unrouted after the final run');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT id FROM audit GROUP BY id HAVING count(*) > 1) d}),
	'0', 'no row was routed twice (audit trigger)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM audit WHERE old_route IS NOT NULL}),
	'0', 'no routed row was routed again');
is($node->safe_psql('postgres', 'SELECT count(DISTINCT id) FROM audit'),
	$total, 'every row was routed once');
is($node->safe_psql('postgres', q{
	SELECT (SELECT sum(n_human) FROM hp.route_ledger) || ' ' || (SELECT sum(n_llm) FROM hp.route_ledger)}),
	$node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE route = 'human') || ' ' || count(*) FILTER (WHERE route = 'llm') FROM prefs}),
	'ledger totals (human, llm) equal the table counts');
is($node->safe_psql('postgres', q{SELECT count(*) FROM hp.budget_status WHERE spent > budget}),
	'0', 'no budget period overspent');
my $spent = $node->safe_psql('postgres', q{
	SELECT string_agg(spent || '/' || budget, ', ') FROM hp.budget_status});
note("spent/budget per period: $spent");
# The per-tag view adds up to the per-period one.
is($node->safe_psql('postgres', q{
	SELECT sum(n_human) FROM hp.routing_summary}),
	$node->safe_psql('postgres', q{SELECT sum(spent) FROM hp.budget_status}),
	'routing_summary (per tag) and budget_status agree');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM hp.route_runs'), '>=', 2,
	'the cron runs and the final run are in the ledger');

$node->stop;
done_testing();
