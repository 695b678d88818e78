-- hybridpref extension script (assembled from sql/parts/*.sql by make)
\echo Use "CREATE EXTENSION hybridpref" to load this file. \quit
