-- hybridpref extension script (assembled from sql/parts/*.sql by make)
\echo Use "CREATE EXTENSION hybridpref" to load this file. \quit

-- Ordinary roles use the extension on their own tables (every function is
-- SECURITY INVOKER and executable by PUBLIC), which needs the schema.
GRANT USAGE ON SCHEMA hp TO PUBLIC;
