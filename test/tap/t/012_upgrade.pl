# 012_upgrade.pl: upgrading hybridpref keeps stored models and matches a
# fresh install; pg_dump keeps the ledger.
#
# - Installs the oldest available version (0.1.0), stores models of every
#   kind (trained ones, and format-version-1 text literals kept in this
#   file), scores them, runs ALTER EXTENSION hybridpref UPDATE to the
#   default version, and checks that every stored model still loads, prints
#   the same text and scores identically, and that the literals give their
#   recorded scores.
# - The updated extension's catalog (members, functions, tables, columns,
#   views, indexes, constraints, policies, comments, privileges, initial
#   privileges, config tables) equals that of a fresh install of the default
#   version: an upgrade script that forgets something fails here.
# - hp.route_pending works on the stored PPM after the update, and a pg_dump
#   and restore keeps the ledger rows (extension config tables).
use strict;
use warnings;

use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

my $default = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'hybridpref'});
my $oldest = $node->safe_psql('postgres', q{
	SELECT version FROM pg_available_extension_versions WHERE name = 'hybridpref'
	ORDER BY string_to_array(version, '.')::int[] LIMIT 1});
if ($oldest eq $default)
{
	plan skip_all => "the default version of hybridpref, $default, is its oldest: no update to test";
}
my $path = $node->safe_psql('postgres', qq{
	SELECT path FROM pg_extension_update_paths('hybridpref') WHERE source = '$oldest' AND target = '$default'});
isnt($path, '', "an update path $oldest -> $default exists ($path)");

# Format-version-1 models as text (written by 0.1.0): they must load in every
# later version, with the scores recorded here (tolerance for BLAS kernels).
my %literal = (
	linear => q!{"format":"hybridpref.model","version":1,"kind":"linear","dim":4,"heads":2,"uncertainty":"ensemble","lambda":0,"loss":0,"rows":0,"seed":0,"options":{"imported":true},"tensors":{"w":{"dtype":"f32","shape":[2,4],"data":[0.5,-1,0.25,2,1,0,-0.5,0.75]}},"checksum":"1d3963988445c404"}!,
	ensemble => q!{"format":"hybridpref.model","version":1,"kind":"linear","dim":4,"heads":2,"uncertainty":"ensemble","lambda":0.001,"loss":0.013998449057945242,"rows":24,"seed":3,"options":{"arch":"linear","batch_size":256,"epochs":50,"heads":2,"hidden":[128,128],"lambda":0.001,"lr":0.001,"max_iter":100,"prior":"anchored","seed":3,"tol":0.0001,"uncertainty":"ensemble"},"tensors":{"center":{"dtype":"f32","shape":[1,4],"data":[5.1494927,0.06695397,-0.5259557,4.674945]},"w":{"dtype":"f32","shape":[2,4],"data":[4.2555027,0.11280991,-2.324543,2.9621654,5.110273,0.55575407,-0.2944079,4.6804395]}},"checksum":"0f9d5945d919629f"}!,
	mlp => q!{"format":"hybridpref.model","version":1,"kind":"mlp","dim":4,"heads":2,"uncertainty":"ensemble","lambda":0.001,"loss":1.007979944238343,"rows":24,"seed":1,"options":{"arch":"mlp","batch_size":256,"epochs":2,"heads":2,"hidden":[3],"lambda":0.001,"lr":0.001,"max_iter":100,"prior":"anchored","seed":1,"tol":0.0001,"uncertainty":"ensemble"},"tensors":{"W1":{"dtype":"f32","shape":[6,4],"data":[-0.15704833,-0.33838812,-0.038279265,-0.6241092,-0.34797877,0.38219047,0.4330426,-1.0259371,-0.75709015,0.08234045,0.5990107,0.3694037,0.1386103,-0.6607974,-0.35297835,-1.1145304,-0.26428497,-0.009825407,-0.031199144,0.80755055,-0.10623036,-0.7415322,1.0840343,0.7623657]},"b1":{"dtype":"f32","shape":[2,3],"data":[0.0020008157,0.0019999794,-0.0019999295,-0.0019998704,-0.0019999128,-0.0019999072]},"wo":{"dtype":"f32","shape":[2,3],"data":[-0.026566008,-0.9227471,0.6511865,-0.36100432,0.7066916,0.46970305]}},"checksum":"2f29c9c21de22712"}!,
	ppm => q!{"format":"hybridpref.model","version":1,"kind":"ppm","dim":2,"heads":1,"uncertainty":"ensemble","lambda":1e-09,"loss":1.7210176465708593e-09,"rows":121,"seed":0,"options":{"columns":5,"constant_columns":0,"cv_corr":1.0000000000000002,"cv_rmse":2.0043160604499298e-09,"degree":2,"folds":5,"lambda":1e-09,"n":10,"n_train":121,"normalize":true,"solver":"primal","target_mean":0.4500000000000002,"target_sd":0.21863211109075448,"train_rmse":1.7210176465708593e-09,"vocab":["subject:code","subject:math"]},"tensors":{"beta":{"dtype":"f64","shape":[1,2],"data":[0.399999979151285,0.19999999573589516]},"intercept":{"dtype":"f64","shape":[1,1],"data":[0.5000000042769231]},"quad":{"dtype":"f64","shape":[2,2],"data":[-0.9999999810512852,1.5000002987367383e-09,1.5000002987367383e-09,2.564104378915159e-09]}},"checksum":"c976171c9bf114d9"}!,
);
# name => [reward, reward_std, prefer] at x = {1,0.5,-0.25,2}, y = {0,1,0,-1};
# ppm => [ppm_predict at {3,4} with n 10, route_gain of {subject:code}].
my %expected = (
	linear => [ 3.28125, 0.65625, 0.9829721348217566 ],
	ensemble => [ 14.664348602294922, 2.0026278495788574, 0.999999995732932 ],
	mlp => [ 0.6595643758773804, 0.6595643758773804, 0.8011118468737941 ],
	ppm => [ 0.6099999987923078, 0.02999999810461565 ],
);

# Scores of a stored model, full precision, space-separated.
my $score_expr = q{CASE WHEN hp.model_info(m)->>'kind' = 'ppm'
	THEN hp.ppm_predict(m, '{3,4}', 10) || ' ' || hp.route_gain(m, '{subject:code}', 10)
	ELSE hp.reward(m, '{1,0.5,-0.25,2}') || ' ' || hp.reward_std(m, '{1,0.5,-0.25,2}')
	     || ' ' || hp.prefer(m, '{1,0.5,-0.25,2}', '{0,1,0,-1}') END};
my $scores_sql = "SELECT string_agg(name || ' ' || $score_expr, E'\\n' ORDER BY name) FROM models";

# 1. The old version, with models stored in a table.
$node->safe_psql('postgres', qq{
	CREATE DATABASE old;
	CREATE DATABASE fresh;
	CREATE DATABASE restored;});
$node->safe_psql('old', qq{
	CREATE EXTENSION hybridpref VERSION '$oldest';
	CREATE TABLE models (name text PRIMARY KEY, m hp.model);
	CREATE TABLE pairs AS
	SELECT i, ARRAY(SELECT (sin(i * 7 + j * 3) + (j = 1)::int)::real FROM generate_series(1, 4) j) AS a,
	          ARRAY(SELECT cos(i * 5 + j)::real FROM generate_series(1, 4) j) AS b
	FROM generate_series(1, 200) i;
	INSERT INTO models
	SELECT 'trained_ensemble', hp.train_reward_model(a, b, '{"heads": 4, "seed": 7}') FROM pairs
	UNION ALL
	SELECT 'trained_laplace', hp.train_reward_model(a, b, '{"uncertainty": "laplace"}') FROM pairs
	UNION ALL
	SELECT 'trained_mlp', hp.train_reward_model(a, b, '{"arch": "mlp", "heads": 2, "hidden": [8], "epochs": 3}') FROM pairs
	UNION ALL
	SELECT 'trained_ppm', hp.train_ppm(ARRAY[x, y]::float8[], 0.5 + 0.4 * x / 10 + 0.2 * y / 10 - (x / 10) ^ 2,
	         '{"vocab": ["subject:code", "subject:math"], "n": 10, "degree": 2, "lambda": 1e-9}')
	FROM generate_series(0.0, 10.0) x, generate_series(0.0, 10.0) y;
	INSERT INTO models VALUES
	  ('literal_linear', '$literal{linear}'), ('literal_ensemble', '$literal{ensemble}'),
	  ('literal_mlp', '$literal{mlp}'), ('literal_ppm', '$literal{ppm}');
	CREATE TABLE before AS SELECT name, m::text AS t FROM models;});
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'hybridpref'}),
	$oldest, "installed $oldest");
is($node->safe_psql('old', q{SELECT count(*) FROM models WHERE hp.model_info(m)->>'format_version' = '1'}),
	'8', 'eight models of format version 1 stored');
my $scores_before = $node->safe_psql('old', $scores_sql);

# 2. The update.
$node->safe_psql('old', 'ALTER EXTENSION hybridpref UPDATE');
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'hybridpref'}),
	$default, "ALTER EXTENSION hybridpref UPDATE reached $default");

# 3. The stored models after it.  A new session, so nothing is cached.
is($node->safe_psql('old', q{SELECT count(*) FROM models JOIN before USING (name) WHERE m::text = t}),
	'8', 'every stored model loads and prints the same text');
is($node->safe_psql('old', q{SELECT count(*) FROM models WHERE (m::text::hp.model)::text = m::text}),
	'8', 'and round-trips through text');
is($node->safe_psql('old', $scores_sql), $scores_before, 'every stored model scores identically');
for my $name (sort keys %expected)
{
	my @got = split / /, $node->safe_psql('old', "SELECT $score_expr FROM models WHERE name = 'literal_$name'");
	my @want = @{ $expected{$name} };
	my $ok = @got == @want;
	for my $i (0 .. $#want)
	{
		$ok &&= abs($got[$i] - $want[$i]) <= 1e-5 * (1 + abs($want[$i]));
	}
	ok($ok, "format-1 literal $name gives its recorded scores (@got)");
}

# 4. The catalog of the updated extension equals a fresh install's.
$node->safe_psql('fresh', 'CREATE EXTENSION hybridpref');
my $catalog_sql = q{
	WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'hybridpref'),
	members AS (
		SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
		WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
	lines AS (
		SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS line FROM members
		UNION ALL
		SELECT 'proc ' || p.oid::regprocedure || ' ' || concat_ws(' | ', p.prokind, p.provolatile, p.proparallel,
		       p.prosecdef, p.proisstrict, p.proretset, pg_get_function_result(p.oid), pg_get_function_arguments(p.oid),
		       p.proconfig::text, md5(p.prosrc), p.probin, p.proacl::text, obj_description(p.oid, 'pg_proc'))
		FROM pg_proc p WHERE p.pronamespace = 'hp'::regnamespace
		UNION ALL
		SELECT 'agg ' || a.aggfnoid::regprocedure || ' ' || concat_ws(' | ', a.aggtransfn, a.aggfinalfn,
		       a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.aggtranstype::regtype)
		FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid WHERE p.pronamespace = 'hp'::regnamespace
		UNION ALL
		SELECT 'rel ' || c.relname || ' ' || concat_ws(' | ', c.relkind, c.reloptions::text, c.relrowsecurity,
		       c.relforcerowsecurity, c.relacl::text, obj_description(c.oid, 'pg_class'),
		       CASE c.relkind WHEN 'v' THEN pg_get_viewdef(c.oid) WHEN 'i' THEN pg_get_indexdef(c.oid) END)
		FROM pg_class c WHERE c.relnamespace = 'hp'::regnamespace
		UNION ALL
		SELECT 'col ' || c.relname || '.' || a.attname || ' ' || concat_ws(' | ', a.attnum,
		       format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
		       a.attacl::text, col_description(c.oid, a.attnum))
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
		WHERE c.relnamespace = 'hp'::regnamespace
		UNION ALL
		SELECT 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = 'hp'::regnamespace
		UNION ALL
		SELECT 'trg ' || tgrelid::regclass || ' ' || pg_get_triggerdef(oid)
		FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'hp'::regnamespace)
		UNION ALL
		SELECT 'pol ' || concat_ws(' | ', tablename, policyname, permissive, roles::text, cmd, qual, with_check,
		       obj_description(p.oid, 'pg_policy'))
		FROM pg_policies s JOIN pg_policy p ON p.polname = s.policyname AND p.polrelid = (s.schemaname || '.' || s.tablename)::regclass
		WHERE s.schemaname = 'hp'
		UNION ALL
		SELECT 'type ' || t.typname || ' ' || concat_ws(' | ', t.typtype, t.typlen, t.typstorage, t.typalign,
		       t.typinput, t.typoutput, t.typreceive, t.typsend, obj_description(t.oid, 'pg_type'))
		FROM pg_type t WHERE t.typnamespace = 'hp'::regnamespace
		UNION ALL
		SELECT 'cast ' || format_type(castsource, NULL) || ' -> ' || format_type(casttarget, NULL) || ' ' || castfunc::regprocedure
		FROM pg_cast c, members m WHERE m.classid = 'pg_cast'::regclass AND m.objid = c.oid
		UNION ALL
		SELECT 'config ' || coalesce(e.extconfig::regclass[]::text, '') || ' ' || coalesce(e.extcondition::text, '')
		FROM pg_extension e WHERE e.extname = 'hybridpref'
		UNION ALL
		SELECT 'schema ' || n.nspname || ' ' || coalesce(n.nspacl::text, '') || ' ' || coalesce(obj_description(n.oid, 'pg_namespace'), '')
		FROM pg_namespace n WHERE n.nspname = 'hp'
		UNION ALL
		SELECT 'initpriv ' || pg_describe_object(i.classoid, i.objoid, i.objsubid) || ' ' || i.privtype::text || ' ' || i.initprivs::text
		FROM pg_init_privs i
		WHERE (i.classoid = 'pg_namespace'::regclass AND i.objoid = 'hp'::regnamespace)
		   OR (i.classoid, i.objoid) IN (SELECT classid, objid FROM members))
	SELECT string_agg(line, E'\n' ORDER BY line) FROM lines};
my @fresh = split /\n/, $node->safe_psql('fresh', $catalog_sql);
my @updated = split /\n/, $node->safe_psql('old', $catalog_sql);
my %in_fresh = map { $_ => 1 } @fresh;
my %in_updated = map { $_ => 1 } @updated;
my @diff = ((map { "only fresh:   $_" } grep { !$in_updated{$_} } @fresh),
	(map { "only updated: $_" } grep { !$in_fresh{$_} } @updated));
cmp_ok(scalar @fresh, '>', 100, 'the catalog fingerprint covers the extension (' . scalar(@fresh) . ' lines)');
is(scalar @diff, 0, "$oldest updated to $default has the catalog of a fresh $default")
  or diag(join("\n", @diff[ 0 .. ($#diff < 40 ? $#diff : 40) ]));

# 5. Routing with the stored PPM after the update, then dump and restore.
$node->safe_psql('old', q{
	CREATE TABLE prefs (id bigint PRIMARY KEY, features text[], route text);
	INSERT INTO prefs SELECT i, (ARRAY['{subject:code}', '{subject:math}', '{}'])[1 + i % 3]::text[]
	FROM generate_series(1, 90) i;});
$node->safe_psql('old', q{DO $$
	DECLARE m hp.model;
	BEGIN
		SELECT p.m INTO m FROM models p WHERE name = 'trained_ppm';
		CALL hp.route_pending('prefs', m, 12, batch_size => 25);
	END $$});
is($node->safe_psql('old', q{
	SELECT count(*) FILTER (WHERE route = 'human') || ' ' || count(*) FILTER (WHERE route IS NULL) FROM prefs}),
	'12 0', 'hp.route_pending routes with a PPM stored before the update');
my $ledger_sql = q{
	SELECT (SELECT string_agg(concat_ws(' ', run_id, batch, tag, table_name, period, period_start, budget, n_human,
	                                    n_llm, spent_after, human_counts, ppm_id, routed_at), E'\n'
	                          ORDER BY run_id, batch, tag) FROM hp.route_ledger)
	       || E'\n' || (SELECT string_agg(ppm_id || ' ' || ppm::text, E'\n') FROM hp.route_ppms)
	       || E'\n' || (SELECT string_agg(concat_ws(' ', table_name, budget, spent, remaining), E'\n') FROM hp.budget_status)};
my $ledger_old = $node->safe_psql('old', $ledger_sql);
my $dump = File::Spec->catfile(PostgreSQL::Test::Utils::tempdir(), 'old.sql');
$node->command_ok([ 'pg_dump', '-d', $node->connstr('old'), '-f', $dump ], 'pg_dump of the updated database');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored'), '-f', $dump ],
	'restored into a new database');
is($node->safe_psql('restored', q{SELECT extversion FROM pg_extension WHERE extname = 'hybridpref'}),
	$default, "the restored database has hybridpref $default");
is($node->safe_psql('restored', $ledger_sql), $ledger_old,
	'the ledger, its PPMs and the budget status survive dump and restore');
is($node->safe_psql('restored', q{SELECT count(*) FROM models}), '8', 'and so do the stored models');
# The restored budget account still counts: nothing more for humans today.
$node->safe_psql('restored', q{INSERT INTO prefs SELECT i, '{subject:code}' FROM generate_series(91, 100) i});
$node->safe_psql('restored', q{DO $$
	DECLARE m hp.model;
	BEGIN
		SELECT p.m INTO m FROM models p WHERE name = 'trained_ppm';
		CALL hp.route_pending('prefs', m, 12, batch_size => 25);
	END $$});
is($node->safe_psql('restored', q{SELECT count(*) FILTER (WHERE route = 'human') FROM prefs}),
	'12', 'after restore the day\'s spent budget still holds');

$node->stop;
done_testing();
