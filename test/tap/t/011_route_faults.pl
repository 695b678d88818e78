# 011_route_faults.pl: hp.route_pending under faults and contention.
#
# - A routing backend is ended with pg_terminate_backend, and another with
#   kill -9 (a crash: the postmaster reinitialises and recovers), each while
#   a batch has updated its rows and written its ledger rows but not yet
#   committed (batch_delay holds it there).  After either, only whole
#   committed batches are routed, the ledger matches the table, and the
#   next run routes the rest: every row exactly once, within the budget.
# - Two runs at the same time route disjoint rows and share one budget.
# - A table without the route column gives a clear error; a role without
#   UPDATE gets a permission error and changes nothing; row-level security
#   limits a role to its own rows.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('faults');
$node->init;
$node->append_conf('postgresql.conf', "restart_after_crash = on\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION hybridpref;
	CREATE TABLE ppms (created timestamptz NOT NULL DEFAULT now(), m hp.model NOT NULL);
	INSERT INTO ppms (m)
	SELECT hp.train_ppm(ARRAY[a, b, c]::float8[], 0.5 - 0.2 * a / 10 + 0.3 * b / 10 + 0.1 * c / 10,
	         '{"vocab": ["len:long", "subject:code", "subject:math"], "n": 10, "lambda": 1e-9}')
	FROM generate_series(0.0, 10.0, 2.0) a, generate_series(0.0, 10.0, 2.0) b,
	     generate_series(0.0, 10.0, 2.0) c;
	GRANT SELECT ON ppms TO PUBLIC;
	CREATE TABLE audit (tbl text, id bigint, old_route text, new_route text);
	GRANT INSERT ON audit TO PUBLIC;
	CREATE FUNCTION audit_route() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO audit VALUES (TG_TABLE_NAME, NEW.id, OLD.route, NEW.route);
		RETURN NEW;
	END $$;
	CREATE FUNCTION make_prefs(name text, n int) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		EXECUTE format('CREATE TABLE %I (id bigint PRIMARY KEY, features text[], route text)', name);
		EXECUTE format('INSERT INTO %I SELECT i, (ARRAY[''{subject:code}'', ''{subject:math}'', ''{len:long}'',
		                ''{}'', ''{subject:code,subject:math}''])[1 + i %% 5]::text[] FROM generate_series(1, $1) i', name)
		USING n;
		EXECUTE format('CREATE TRIGGER audit_route AFTER UPDATE OF route ON %I FOR EACH ROW
		                WHEN (OLD.route IS DISTINCT FROM NEW.route) EXECUTE FUNCTION audit_route()', name);
	END $$;
	SELECT make_prefs('prefs', 3000);
	SELECT make_prefs('prefs2', 2000);
});

# A DO block that routes tbl with the newest PPM (CALL arguments cannot hold
# subqueries).
sub route_sql
{
	my ($tbl, $budget, $args) = @_;
	$args = $args ? ", $args" : '';
	return qq{DO \$r\$
DECLARE m hp.model;
BEGIN
	SELECT p.m INTO m FROM ppms p ORDER BY p.created DESC LIMIT 1;
	CALL hp.route_pending('$tbl', m, $budget$args);
END \$r\$};
}

# psql in the background, tagged with an application_name.
sub start_psql
{
	my ($appname, $sql, $user) = @_;
	my %s = (out => '', err => '');
	my $connstr = $node->connstr('postgres') . " application_name=$appname";
	$connstr .= " user=$user" if $user;
	$s{h} = IPC::Run::start([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-c', $sql ],
		'>', \$s{out}, '2>', \$s{err});
	return \%s;
}

# The consistency every fault must leave: ledger totals equal the table's
# routed rows, each committed batch routed whole, no row routed twice.
sub check_consistent
{
	my ($tbl, $label) = @_;
	is($node->safe_psql('postgres', qq{
		SELECT coalesce(sum(n_human), 0) || ' ' || coalesce(sum(n_llm), 0)
		FROM hp.route_ledger WHERE table_name = 'public.$tbl'}),
		$node->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE route = 'human') || ' ' || count(*) FILTER (WHERE route = 'llm') FROM $tbl}),
		"$label: ledger totals equal the table's counts");
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM (SELECT id FROM audit WHERE tbl = '$tbl' GROUP BY id HAVING count(*) > 1) d}),
		'0', "$label: no row routed twice");
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM audit WHERE tbl = '$tbl'}),
		$node->safe_psql('postgres', qq{SELECT count(*) FROM $tbl WHERE route IS NOT NULL}),
		"$label: every routed row was routed once");
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM hp.budget_status WHERE table_name = 'public.$tbl' AND spent > budget}),
		'0', "$label: budget not overspent");
}

# Start a slow run (batches of 500, each held 1.5 s before its COMMIT) and
# wait until its first batch is committed and its second is written but not
# committed; returns the run's backend pid.
sub start_slow_run
{
	my ($appname) = @_;
	my $before = $node->safe_psql('postgres', q{SELECT count(DISTINCT (run_id, batch)) FROM hp.route_ledger});
	my $s = start_psql($appname, route_sql('prefs', 100, 'batch_size => 500, batch_delay => 1.5'));
	$node->poll_query_until('postgres', qq{
		SELECT (SELECT count(DISTINCT (run_id, batch)) FROM hp.route_ledger) = $before + 1
		   AND EXISTS (SELECT FROM pg_stat_activity WHERE application_name = '$appname' AND wait_event = 'PgSleep')})
	  or die "the run $appname did not reach its second batch";
	my $pid = $node->safe_psql('postgres', qq{
		SELECT pid FROM pg_stat_activity WHERE application_name = '$appname'});
	return ($s, $pid);
}

# 1. pg_terminate_backend during batch 2.
my ($run, $pid) = start_slow_run('router_term');
is($node->safe_psql('postgres', q{SELECT count(*) FROM prefs WHERE route IS NOT NULL}),
	'500', 'before the fault: batch 1 committed, batch 2 not visible');
ok($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)") eq 't', 'routing backend terminated');
$run->{h}->finish;
like($run->{err}, qr/terminating connection due to administrator command/, 'the run was terminated');
is($node->safe_psql('postgres', q{SELECT count(*) FROM prefs WHERE route IS NOT NULL}),
	'500', 'after pg_terminate_backend: only the committed batch is routed');
check_consistent('prefs', 'after pg_terminate_backend');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'}),
	'0', 'no ledger lock left behind');

# 2. kill -9 of the backend during batch 2: a crash and recovery.
($run, $pid) = start_slow_run('router_kill');
is(kill('KILL', $pid), 1, "routing backend $pid killed with SIGKILL");
$run->{h}->finish;
$node->poll_query_until('postgres', 'SELECT true') or die 'the server did not recover';
ok($node->log_contains(qr/terminated by signal 9/), 'the postmaster saw the crash and reinitialised');
is($node->safe_psql('postgres', q{SELECT count(*) FROM prefs WHERE route IS NOT NULL}),
	'1000', 'after kill -9: the two committed batches are routed, the batch in flight is not');
check_consistent('prefs', 'after kill -9');

# 3. The next run routes the rest, each row once.
$node->safe_psql('postgres', route_sql('prefs', 100, 'batch_size => 500'));
is($node->safe_psql('postgres', q{SELECT count(*) FROM prefs WHERE route IS NULL}),
	'0', 'the next run routed every remaining row');
check_consistent('prefs', 'after the next run');
is($node->safe_psql('postgres', q{SELECT count(DISTINCT id) FROM audit WHERE tbl = 'prefs'}),
	'3000', 'all 3000 rows routed exactly once across the faults');
is($node->safe_psql('postgres', q{SELECT spent FROM hp.budget_status WHERE table_name = 'public.prefs'}),
	'100', 'the day\'s budget of 100 was spent exactly, across runs and faults');

# 4. Two runs at once: SKIP LOCKED gives them disjoint rows; the ledger lock
#    gives them one budget.
my @runs = map { start_psql("router_$_", route_sql('prefs2', 150, 'batch_size => 200, batch_delay => 0.2')) } (1, 2);
$_->{h}->finish for @runs;
unlike(join('', map { $_->{err} } @runs), qr/ERROR|WARNING/, 'both concurrent runs succeeded');
is($node->safe_psql('postgres', q{SELECT count(*) FROM prefs2 WHERE route IS NULL}), '0',
	'the two runs routed every row');
check_consistent('prefs2', 'two concurrent runs');
my $per_run = $node->safe_psql('postgres', q{
	SELECT string_agg((n_human + n_llm)::text, ' ' ORDER BY run_id) FROM hp.route_runs WHERE table_name = 'public.prefs2'});
like($per_run, qr/^[1-9]\d* [1-9]\d*$/, "both runs routed rows ($per_run)");
is($node->safe_psql('postgres', q{
	SELECT bool_and(a.first_batch_at < b.last_batch_at)
	FROM hp.route_runs a JOIN hp.route_runs b ON a.run_id <> b.run_id
	WHERE a.table_name = 'public.prefs2' AND b.table_name = 'public.prefs2'}),
	't', 'the two runs overlapped in time');
is($node->safe_psql('postgres', q{SELECT count(*) FROM prefs2 WHERE route = 'human'}),
	'150', 'together they sent exactly the budget of 150 rows to humans');

# 5. A table without the route column: a clear error, nothing written.
$node->safe_psql('postgres', q{CREATE TABLE noroute (id bigint PRIMARY KEY, features text[])});
my ($rc, $out, $err) = $node->psql('postgres', route_sql('noroute', 10));
isnt($rc, 0, 'routing a table without the route column fails');
like($err, qr/column "route" of relation public\.noroute does not exist/, 'with a clear error');
like($err, qr/HINT:  hp\.route_pending writes 'human' or 'llm' into it: ALTER TABLE public\.noroute ADD COLUMN route text;/,
	'and a hint');

# 6. A role without UPDATE: a permission error, not a partial result.
$node->safe_psql('postgres', q{
	SELECT make_prefs('prefs3', 50);
	CREATE ROLE reader LOGIN;
	GRANT SELECT ON prefs3 TO reader;});
($rc, $out, $err) = $node->psql('postgres', route_sql('prefs3', 10), extra_params => [ '-U', 'reader' ]);
isnt($rc, 0, 'a role without UPDATE cannot route');
like($err, qr/permission denied to route table public\.prefs3/, 'it gets a permission error');
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM prefs3 WHERE route IS NOT NULL)
	     + (SELECT count(*) FROM hp.route_ledger WHERE table_name = 'public.prefs3')}),
	'0', 'and nothing was routed or written to the ledger');

# 7. Row-level security: a role routes only the rows it may see.
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
	CREATE TABLE shared (id bigint PRIMARY KEY, features text[], route text,
	                     owner name NOT NULL DEFAULT current_user);
	ALTER TABLE shared ENABLE ROW LEVEL SECURITY;
	CREATE POLICY own_rows ON shared USING (owner = current_user);
	GRANT SELECT, INSERT, UPDATE ON shared TO alice, bob;
	INSERT INTO shared SELECT i, '{subject:code}', NULL, CASE WHEN i <= 30 THEN 'alice' ELSE 'bob' END
	FROM generate_series(1, 50) i;});
($rc, $out, $err) = $node->psql('postgres', route_sql('shared', 5), extra_params => [ '-U', 'alice' ]);
is($rc, 0, 'alice routes the shared table');
like($err, qr/30 rows of public\.shared routed/, 'alice routed her 30 rows');
is($node->safe_psql('postgres', q{
	SELECT string_agg(owner || ':' || count_routed || '/' || count_all, ' ' ORDER BY owner)
	FROM (SELECT owner, count(route) AS count_routed, count(*) AS count_all FROM shared GROUP BY owner) s}),
	'alice:30/30 bob:0/20', 'only alice\'s rows were routed');
my $bob_sees = $node->safe_psql('postgres', q{SELECT count(*) || ' ' || count(route) FROM shared},
	extra_params => [ '-U', 'bob' ]);
is($bob_sees, '20 0', 'bob sees his 20 rows, none routed');
$node->safe_psql('postgres', route_sql('shared', 5), extra_params => [ '-U', 'bob' ]);
is($node->safe_psql('postgres', q{SELECT count(*) FROM shared WHERE route IS NULL}), '0',
	'bob then routed his rows');
is($node->safe_psql('postgres', q{SELECT count(*) FROM shared WHERE route = 'human'}), '5',
	'and the two shared the table\'s budget of 5');

$node->stop;
done_testing();
