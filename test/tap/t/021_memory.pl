# 021_memory.pl: scoring and training do not leak backend memory.
#
# In one connection: score a million 16-d rows with hp.reward,
# hp.reward_std, hp.prefer, hp.prefer_std and hp.prefer_flip (linear
# ensemble; 100,000 rows with an MLP ensemble and with a 256-head model read
# from a table through its TOAST pointer), and call the training
# aggregate 200 times (plus MLP, Laplace, soft-label, warm-started and
# failing trainings), twice over.  The backend's memory is read from
# pg_backend_memory_contexts (sum of total_bytes, and TopMemoryContext) and
# from RssAnon in /proc/self/status after a warm-up and after each round; it
# must not grow by more than 1 MB (contexts) and 8 MB (RssAnon).  Also:
# training on more data than hybridpref.max_train_memory fails with SQLSTATE
# 54000 and the same backend goes on.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $max_context_growth = 1024 * 1024;     # bytes, all memory contexts
my $max_top_growth = 64 * 1024;           # bytes, TopMemoryContext itself
my $max_rss_growth_kb = 8 * 1024;         # kB of anonymous resident memory

my $node = PostgreSQL::Test::Cluster->new('memory');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION hybridpref;
	-- A million rows of two 16-d vectors.
	CREATE TABLE rows1m AS
	SELECT i, ARRAY[(i % 97)::float8 / 97, (i % 89)::float8 / 89, (i % 83)::float8 / 83, (i % 79)::float8 / 79,
	                (i % 73)::float8 / 73, (i % 71)::float8 / 71, (i % 67)::float8 / 67, (i % 61)::float8 / 61,
	                (i % 59)::float8 / 59, (i % 53)::float8 / 53, (i % 47)::float8 / 47, (i % 43)::float8 / 43,
	                (i % 41)::float8 / 41, (i % 37)::float8 / 37, (i % 31)::float8 / 31, (i % 29)::float8 / 29]::real[] AS x,
	          ARRAY[(i % 7)::float8 / 7, (i % 11)::float8 / 11, (i % 13)::float8 / 13, (i % 17)::float8 / 17,
	                (i % 19)::float8 / 19, (i % 23)::float8 / 23, (i % 29)::float8 / 29, (i % 31)::float8 / 31,
	                (i % 37)::float8 / 37, (i % 41)::float8 / 41, (i % 43)::float8 / 43, (i % 47)::float8 / 47,
	                (i % 53)::float8 / 53, (i % 59)::float8 / 59, (i % 61)::float8 / 61, (i % 67)::float8 / 67]::real[] AS y
	FROM generate_series(1, 1000000) i;
	ALTER TABLE rows1m ADD PRIMARY KEY (i);
	VACUUM ANALYZE rows1m;
	CREATE TABLE models (name text PRIMARY KEY, m hp.model);
	INSERT INTO models
	SELECT 'ensemble', hp.train_reward_model(x, y, '{"heads": 8}') FROM rows1m WHERE i <= 5000;
	INSERT INTO models
	SELECT 'mlp', hp.train_reward_model(x, y, '{"arch": "mlp", "heads": 4, "hidden": [16], "epochs": 2}') FROM rows1m WHERE i <= 5000;
	-- 256 heads: 16 kB, stored out of line, so scoring reads it through its
	-- TOAST pointer on every row.
	INSERT INTO models
	SELECT 'wide', hp.linear_model(array_agg(r ORDER BY h))
	FROM (SELECT h, array_agg(sin(h * 16 + j)::real ORDER BY j) AS r
	      FROM generate_series(0, 255) h, generate_series(1, 16) j GROUP BY h) s;
	-- Backend memory: all contexts, TopMemoryContext, anonymous RSS (kB).
	CREATE FUNCTION mem(OUT total bigint, OUT top bigint, OUT rss_anon_kb bigint) LANGUAGE sql AS $$
		SELECT (SELECT sum(total_bytes) FROM pg_backend_memory_contexts)::bigint,
		       (SELECT total_bytes FROM pg_backend_memory_contexts WHERE name = 'TopMemoryContext'),
		       substring(pg_read_file('/proc/self/status') FROM 'RssAnon:\s*(\d+)')::bigint
	$$;
	-- One round of work: every scoring function over 1M rows (100k with the
	-- MLP), 200 trainings of the linear ensemble on 1,000 rows each, and a
	-- few of every other kind, each its own statement.
	CREATE FUNCTION workload(n_rows int) RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
		lin hp.model := (SELECT m FROM models WHERE name = 'ensemble');
		mlp hp.model := (SELECT m FROM models WHERE name = 'mlp');
		s float8;
		acc float8 := 0;
		m hp.model;
	BEGIN
		SELECT sum(hp.reward(lin, x)) INTO s FROM rows1m WHERE i <= n_rows;             acc := acc + s;
		SELECT sum(hp.reward_std(lin, x)) INTO s FROM rows1m WHERE i <= n_rows;         acc := acc + s;
		SELECT sum(hp.prefer(lin, x, y)) INTO s FROM rows1m WHERE i <= n_rows;          acc := acc + s;
		SELECT sum(hp.prefer_std(lin, x, y)) INTO s FROM rows1m WHERE i <= n_rows;      acc := acc + s;
		SELECT sum(hp.prefer_flip(lin, x, y)) INTO s FROM rows1m WHERE i <= n_rows;     acc := acc + s;
		SELECT sum(hp.reward(mlp, x) + hp.reward_std(mlp, x) + hp.prefer(mlp, x, y) + hp.prefer_std(mlp, x, y)
		           + hp.prefer_flip(mlp, x, y)) INTO s FROM rows1m WHERE i <= n_rows / 10;
		acc := acc + s;
		SELECT sum(hp.reward(m.m, x) + hp.reward_std(m.m, x) + hp.prefer(m.m, x, y) + hp.prefer_std(m.m, x, y)
		           + hp.prefer_flip(m.m, x, y)) INTO s FROM rows1m, models m WHERE m.name = 'wide' AND i <= n_rows / 10;
		acc := acc + s;
		FOR k IN 0 .. 199 LOOP
			SELECT hp.train_reward_model(x, y, '{"heads": 8}') INTO m
			FROM rows1m WHERE i > k * 1000 AND i <= (k + 1) * 1000;
		END LOOP;
		FOR k IN 0 .. 9 LOOP
			SELECT hp.train_reward_model(x, y, '{"uncertainty": "laplace"}') INTO m FROM rows1m WHERE i > k * 1000 AND i <= (k + 1) * 1000;
			SELECT hp.train_reward_model(x, y, 0.7, '{"heads": 2}') INTO m FROM rows1m WHERE i > k * 1000 AND i <= (k + 1) * 1000;
			SELECT hp.train_reward_model(x, y, jsonb_build_object('heads', 8, 'init', lin::text)) INTO m
			FROM rows1m WHERE i > k * 1000 AND i <= (k + 1) * 1000;
			SELECT hp.train_reward_model(x, y, '{"arch": "mlp", "heads": 2, "hidden": [8], "epochs": 1}') INTO m
			FROM rows1m WHERE i > k * 1000 AND i <= (k + 1) * 1000;
			BEGIN
				-- fails on its last row, after the others were added
				SELECT hp.train_reward_model(CASE WHEN i = (k + 1) * 1000 THEN x || 1::real ELSE x END, y) INTO m
				FROM rows1m WHERE i > k * 1000 AND i <= (k + 1) * 1000;
			EXCEPTION WHEN data_exception THEN
				NULL;
			END;
		END LOOP;
		RETURN 'done ' || round(acc::numeric, 0);
	END $$;
});

my $s = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $s->query_safe('SELECT pg_backend_pid()');
# All the work in this backend: no parallel workers.
$s->query_safe('SET max_parallel_workers_per_gather = 0');

sub mem
{
	my ($label) = @_;
	my ($total, $top, $rss) = split /\|/, $s->query_safe('SELECT * FROM mem()');
	note(sprintf('%-24s contexts %10d B, TopMemoryContext %8d B, RssAnon %7d kB', $label, $total, $top, $rss));
	return { total => $total, top => $top, rss => $rss };
}

sub check_growth
{
	my ($what, $before, $after) = @_;
	my $d_total = $after->{total} - $before->{total};
	my $d_top = $after->{top} - $before->{top};
	my $d_rss = $after->{rss} - $before->{rss};
	diag(sprintf('%s: contexts %+d B (%.1f MB -> %.1f MB), TopMemoryContext %+d B, RssAnon %+d kB (%d -> %d kB)',
		$what, $d_total, $before->{total} / 1048576, $after->{total} / 1048576, $d_top, $d_rss,
		$before->{rss}, $after->{rss}));
	cmp_ok($d_total, '<', $max_context_growth, "$what: memory contexts grew by less than 1 MB");
	cmp_ok($d_top, '<', $max_top_growth, "$what: TopMemoryContext grew by less than 64 kB");
	cmp_ok($d_rss, '<', $max_rss_growth_kb, "$what: anonymous RSS grew by less than 8 MB");
}

# Warm-up: every code path once on a few rows (caches, OpenBLAS, plans).
$s->query_safe('SELECT workload(10000)');
my $m0 = mem('after warm-up');
my $t0 = time;
like($s->query_safe('SELECT workload(1000000)'), qr/^done /, 'round 1: 1M rows scored, 240 trainings');
note('round 1 took ' . (time - $t0) . ' s');
my $m1 = mem('after round 1');
like($s->query_safe('SELECT workload(1000000)'), qr/^done /, 'round 2: 1M rows scored, 240 trainings');
my $m2 = mem('after round 2');
check_growth('round 1 (after warm-up)', $m0, $m1);
check_growth('round 2', $m1, $m2);

# More data than hybridpref.max_train_memory: a clean 54000 error, and the
# same backend answers afterwards, with its memory back where it was.
$s->query_safe(q{SET hybridpref.max_train_memory = '16MB'});
my ($out, $failed) = $s->query(q{\set VERBOSITY verbose
	SELECT hp.train_reward_model(x, y) FROM rows1m});
ok($failed, 'training on 1M rows with max_train_memory = 16MB fails');
like($s->{stderr}, qr/54000: training data exceeds hybridpref\.max_train_memory \(16384 kB\)/,
	'... with SQLSTATE 54000');
$s->{stderr} = '';
$s->query_safe('RESET hybridpref.max_train_memory');
is($s->query_safe('SELECT pg_backend_pid()'), $pid, 'the same backend goes on after the error');
my $m3 = mem('after the 54000 error');
cmp_ok($m3->{total} - $m2->{total}, '<', $max_context_growth, 'memory contexts back within 1 MB after the error');

$s->quit;
$node->stop;
done_testing();
