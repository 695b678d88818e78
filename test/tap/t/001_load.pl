# 001_load.pl: loading hybridpref, and where OpenBLAS gets mapped.
#
# OpenBLAS must never be mapped into the postmaster (its thread pool would be
# inherited, dead, by every forked backend), with or without
# shared_preload_libraries; a backend maps it on its first BLAS call.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Text of /proc/<pid>/maps of the node's postmaster.
sub postmaster_maps
{
	my ($node) = @_;
	my ($pid) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
	return slurp_file("/proc/$pid/maps");
}

# Smallest BLAS-using statement: train on a few random pairs, score one.
my $blas_sql = q{
	SELECT hp.reward(m, array_fill(0.5::real, ARRAY[4]))
	FROM (SELECT hp.train_reward_model(a, b) AS m
	      FROM (SELECT ARRAY(SELECT (random() + (j = 1)::int)::real FROM generate_series(1, 4) j WHERE i > 0) AS a,
	                   ARRAY(SELECT random()::real FROM generate_series(1, 4) j WHERE i > 0) AS b
	            FROM generate_series(1, 64) i) pairs) t};

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;

# CREATE EXTENSION loads the module in its session (C function validation).
is($node->safe_psql('postgres', 'CREATE EXTENSION hybridpref; SHOW hybridpref.blas_threads'),
	'1', 'CREATE EXTENSION hybridpref; hybridpref.blas_threads defaults to 1');
is($node->safe_psql('postgres', "LOAD 'hybridpref'; SHOW hybridpref.blas_threads"),
	'1', 'hybridpref.blas_threads is 1 after LOAD in a new session');
unlike(postmaster_maps($node), qr/libopenblas/,
	'postmaster has not mapped OpenBLAS after CREATE EXTENSION');

# Preloaded: the postmaster maps the module itself but still not OpenBLAS.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'hybridpref'");
$node->restart;
my $maps = postmaster_maps($node);
like($maps, qr/hybridpref\.so/, 'preloaded postmaster maps hybridpref.so');
unlike($maps, qr/libopenblas/, 'preloaded postmaster does not map OpenBLAS');
is($node->safe_psql('postgres', 'SHOW hybridpref.blas_threads'),
	'1', 'hybridpref.blas_threads is 1 when preloaded');

SKIP:
{
	my $has_reward = $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_proc WHERE proname = 'reward' AND pronamespace = 'hp'::regnamespace");
	skip 'hp.reward does not exist yet: backend BLAS mapping not checked', 4
	  unless $has_reward > 0;

	# One session: use BLAS, then read the backend's own maps and status.
	my $out = $node->safe_psql('postgres', qq{
		SELECT ($blas_sql) IS NOT NULL;
		SELECT pg_read_file('/proc/self/maps') ~ 'libopenblas';
		SELECT substring(pg_read_file('/proc/self/status') from 'Threads:\\s*(\\d+)');});
	my ($scored, $mapped, $threads) = split /\n/, $out;
	is($scored, 't', 'hp.reward scores with a freshly trained model');
	is($mapped, 't', 'backend that used BLAS maps OpenBLAS');
	is($threads, '1', 'that backend runs one thread with blas_threads = 1');
	unlike(postmaster_maps($node), qr/libopenblas/,
		'postmaster still has not mapped OpenBLAS after backends used it');
}

$node->stop;
done_testing();
