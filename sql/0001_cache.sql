-- Syncto cache schema, version 1: the cliquet PostgreSQL cache table.
--
-- The column types are those of cliquet's cache backend, so a database that
-- an older Syncto filled keeps working. `value` holds a JSON string literal
-- (the caller's value wrapped in double quotes, JSON-escaped), `ttl` the
-- absolute expiry in UTC, NULL for never.
--
-- Applied by syncto-migrate inside one transaction; the runner records the
-- version in metadata afterwards. Every statement tolerates objects that are
-- already there, so adopting an existing cliquet cache table re-runs this file
-- to add what it lacks (the metadata table, the index).

CREATE TABLE IF NOT EXISTS cache (
    key VARCHAR(256) PRIMARY KEY,
    value TEXT NOT NULL,
    ttl TIMESTAMP
);

CREATE INDEX IF NOT EXISTS idx_cache_ttl ON cache(ttl);

CREATE TABLE IF NOT EXISTS metadata (
    name VARCHAR(128) PRIMARY KEY,
    value VARCHAR(512) NOT NULL
);

-- A metadata table that cliquet's storage backend created may already be
-- here, possibly without a unique constraint on name: no ON CONFLICT.
INSERT INTO metadata (name, value)
SELECT 'cache_schema_version', '1'
WHERE NOT EXISTS (SELECT 1 FROM metadata WHERE name = 'cache_schema_version');
