# 020_cancel.pl: query cancel reaches long-running hybridpref calls.
#
# A background session starts a long statement (linear training in the
# Newton-CG solver, MLP training, candidate simulation, distinguishability
# over a million generated rows); once pg_stat_activity shows it running,
# another session calls pg_cancel_backend and, in the same server function,
# polls pg_stat_activity until the backend is no longer active.  The time
# from the cancel request to the backend going idle must stay under 1 s
# (printed for each case), the statement must fail with SQLSTATE 57014, the
# session must go on working, and the cancelled statements must leave no
# memory behind.  Paths that once exceeded 1 s (docs/reliability.md) are
# ordinary tests now.
use strict;
use warnings;

use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $max_latency_ms = 1000;

my $node = PostgreSQL::Test::Cluster->new('cancel');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION hybridpref;
	-- Cancel backend p, then wait until it is no longer active; returns the
	-- milliseconds in between (NULL after 30 s).
	CREATE FUNCTION cancel_latency(p int) RETURNS float8 LANGUAGE plpgsql AS $$
	DECLARE
		t0 timestamptz;
		st text;
	BEGIN
		t0 := clock_timestamp();
		IF NOT pg_cancel_backend(p) THEN
			RETURN NULL;
		END IF;
		LOOP
			PERFORM pg_stat_clear_snapshot();
			SELECT state INTO st FROM pg_stat_activity WHERE pid = p;
			EXIT WHEN st IS DISTINCT FROM 'active';
			IF clock_timestamp() - t0 > interval '30 s' THEN
				RETURN NULL;
			END IF;
			PERFORM pg_sleep(0.001);
		END LOOP;
		RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
	END $$;
	-- 100,000 pairs of 64-d hashed embeddings (about 60 MB).
	CREATE TABLE pairs AS
	SELECT i, hp.embed('a' || i || ' w' || (i % 97) || ' v' || (i % 13), 64) AS a,
	          hp.embed('b' || i || ' w' || (i % 89), 64) AS b
	FROM generate_series(1, 100000) i;
	-- Simulation input: 5,000 training pairs with features, 1,000 held out.
	CREATE TABLE sim_train AS
	SELECT i AS id, a AS a_emb, b AS b_emb, 1::float8 AS human_label, (i % 2)::float8 AS llm_label,
	       ARRAY['f:' || (i % 7), 'g:' || (i % 3)] AS features
	FROM pairs WHERE i <= 5000;
	CREATE TABLE sim_heldout AS
	SELECT id, a_emb, b_emb, 1::float8 AS trusted_label FROM sim_train WHERE id <= 1000;
	VACUUM ANALYZE pairs, sim_train, sim_heldout;
	CREATE VIEW pairs256 AS SELECT a || a || a || a AS a, b || b || b || b AS b FROM pairs;
	-- Memory of the calling backend: all contexts, and anonymous RSS (kB).
	CREATE FUNCTION mem() RETURNS text LANGUAGE sql AS $$
		SELECT (SELECT sum(total_bytes) FROM pg_backend_memory_contexts)::bigint || ' '
		    || substring(pg_read_file('/proc/self/status') FROM 'RssAnon:\s*(\d+)')
	$$;
});

my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_safe('\set VERBOSITY verbose');

my %latency;    # case => ms from pg_cancel_backend to the backend going idle
my @mem;        # [case, context bytes, RssAnon kB] after each case

# Start $sql (tagged with a comment naming the case) in the background
# session, wait until it is active, let it run $delay_s seconds, cancel it
# and check how fast it stopped.
sub check_cancel
{
	my ($name, $sql, $delay_s, $todo) = @_;
	my $tag = "cancel_case_$name";
	$tag =~ s/\W/_/g;

	$bg->{stderr} = '';
	$bg->query_until(qr/started_$tag/, "\\echo started_$tag\nSELECT /* $tag */ $sql;\n");
	$node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE state = 'active' AND query LIKE '%/* $tag */%' AND pid <> pg_backend_pid()})
	  or die "$name never became active";
	usleep(int($delay_s * 1_000_000));
	my $pid = $node->safe_psql('postgres', qq{
		SELECT pid FROM pg_stat_activity
		WHERE state = 'active' AND query LIKE '%/* $tag */%' AND pid <> pg_backend_pid()});
	isnt($pid, '', "$name: still running after ${delay_s} s");
	my $ms = $pid eq '' ? undef : $node->safe_psql('postgres', "SELECT round(cancel_latency($pid)::numeric, 1)");
	{
		# Known slow paths are TODO tests: they report, but do not fail.
		local $TODO = $todo;
		ok(defined $ms && $ms ne '' && $ms < $max_latency_ms,
			"$name: stopped within $max_latency_ms ms of the cancel request")
		  or diag("$name: cancel latency " . ($ms // 'n/a') . ' ms');
	}
	note("cancel latency, $name: $ms ms");
	diag("cancel latency, $name: $ms ms") if $ENV{HP_SHOW_LATENCY};

	# The statement failed with 57014, and the session still works.
	my $alive = $bg->query('SELECT 42');
	like($bg->{stderr}, qr/57014: canceling statement due to user request/,
		"$name: the statement failed with SQLSTATE 57014");
	is($alive, '42', "$name: the session goes on after the cancel");
	push @mem, [ $name, split(/ /, $bg->query('SELECT mem()')) ];
	return $ms;
}


# Linear training on 20,000 generated 1024-d rows, 16 heads, a tolerance
# that is never reached: the rows are read within a second, so the cancel
# lands in the Newton-CG solver.
$latency{'linear training, 20k x 1024-d'} = check_cancel('linear training, 20k x 1024-d',
	q{hp.train_reward_model(hp.embed('a' || i || ' x ' || (i % 101), 1024), hp.embed('b' || i || ' y ' || (i % 103), 1024),
	                         '{"heads": 16, "tol": 1e-10, "max_iter": 100}') IS NOT NULL FROM generate_series(1, 20000) i}, 3.0);

# MLP training: 8 heads of [64, 64], Adam epochs of about a second each.
$latency{'mlp training'} = check_cancel('mlp training',
	q{hp.train_reward_model(a, b, '{"arch": "mlp", "heads": 8, "hidden": [64, 64], "epochs": 50}') IS NOT NULL FROM pairs WHERE i <= 20000}, 2.0);

# Simulation: 10,000 candidate routings, each a proxy training and scoring.
$latency{'simulate_routings'} = check_cancel('simulate_routings',
	q{count(*) FROM hp.simulate_routings('sim_train', 'sim_heldout', '{0.5}', 5000)}, 2.0);

# Distinguishability over a million generated 1024-d pairs (blocked dsyrk
# in the transition function).
$latency{'distinguishability scan'} = check_cancel('distinguishability scan',
	q{hp.distinguishability(hp.embed('a' || i || ' x ' || (i % 101), 1024), hp.embed('b' || i || ' y ' || (i % 103), 1024)) IS NOT NULL
	  FROM generate_series(1, 1000000) i}, 2.0);

# The out-of-core trainer: one aggregate pass per Newton step, each folding
# blocks of rows into one 256 x 256 Hessian per head (seconds per pass).
$latency{'train_reward_model_iterative'} = check_cancel('train_reward_model_iterative',
	q{hp.train_reward_model_iterative('pairs256', 'a', 'b', '{"heads": 16}') IS NOT NULL}, 2.0);

# Paths that were slow to cancel before their loops checked for interrupts
# (docs/reliability.md): now ordinary tests.
#
# Many rows times many heads: the solver's per-head Armijo line search
# (HeadLoss over every row, up to 40 steps per head), the residual loop of
# Evaluate and the bootstrap weights of InitWeights (src/core/bt_train.c)
# run O(rows x heads) without checking for interrupts.
my $todo_bt = undef;
# 100,000 rows and 256 heads (the solver holds about 400 MB): measured 0.1 to
# 2.7 s, up to 10 s with 300,000 rows.
for my $delay (2.5, 4.0)
{
	$latency{"linear training, 100k x 64-d, 256 heads, at $delay s"} = check_cancel(
		"linear training, 100k x 64-d, 256 heads, at $delay s",
		q{hp.train_reward_model(a, b, '{"heads": 256, "tol": 1e-10, "max_iter": 100}') IS NOT NULL FROM pairs}, $delay, $todo_bt);
}

# One group of 25,000 candidates: infomax, deltaucb and maxminlcb compare
# every pair in the final function (src/core/select.c); they check for
# interrupts every 256 candidates.
$latency{'select_pair infomax, 25k candidates'} = check_cancel('select_pair infomax, 25k candidates',
	q{hp.select_pair(hp.linear_model('{{1,0},{0,1}}'), i, ARRAY[sin(i), cos(i)]::real[], 'infomax', 1, 0) IS NOT NULL
	  FROM generate_series(1, 25000) i}, 1.0);

# Cancelled statements leave nothing behind: the backend's memory after the
# last cancel is that after the third (the first three load OpenBLAS and
# fill the catalog caches for the tables and functions used).
note(sprintf('memory after %s: contexts %d B, RssAnon %d kB', @$_)) for @mem;
my $d_ctx = $mem[-1][1] - $mem[2][1];
my $d_rss = $mem[-1][2] - $mem[2][2];
diag(sprintf('memory from the third to the last cancel: contexts %+d B, RssAnon %+d kB', $d_ctx, $d_rss));
cmp_ok($d_ctx, '<', 1024 * 1024, 'cancelled statements leak no context memory (< 1 MB)');

$bg->quit;

my $summary = join(', ', map { "$_ $latency{$_} ms" } sort keys %latency);
diag("cancel latencies: $summary");

$node->stop;
done_testing();
