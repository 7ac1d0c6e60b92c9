-- dxpulse's ClickHouse users, least privilege. Applied by `dxpulse init --users`, connected
-- as a user with access management (the server's admin, which also runs the migrations);
-- re-running converges: profiles, users and grants are rewritten, not accumulated.
--
-- Placeholders, filled by dxpulse/access.py: {db} is the database; {<user>_sha256} and
-- {<user>_salt} are SHA-256(password + salt) and a fresh random salt per run, both hex, so
-- the plaintext passwords (DXPULSE_CLICKHOUSE__WRITER_PASSWORD,
-- DXPULSE_CLICKHOUSE__ANALYST_PASSWORD, DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD) never reach
-- the server, its query log or an error message.
--
-- Only these statement forms are accepted (dxpulse/access.py rejects others), and the unit
-- tests check the resulting rights: nobody gets ALL, a grant option or access management.

-- Limits. `ALTER SETTINGS PROFILE ... SETTINGS` replaces the whole list.
CREATE SETTINGS PROFILE IF NOT EXISTS dxpulse_writer_profile;
ALTER SETTINGS PROFILE dxpulse_writer_profile SETTINGS
    allow_ddl = 0 CONST;

CREATE SETTINGS PROFILE IF NOT EXISTS dxpulse_analyst_profile;
ALTER SETTINGS PROFILE dxpulse_analyst_profile SETTINGS
    readonly = 1,
    max_execution_time = 300,
    max_memory_usage = 4294967296,
    max_result_rows = 1000000,
    max_concurrent_queries_for_user = 4;

-- readonly = 2: Grafana's ClickHouse plugin sets settings such as max_execution_time per
-- query; the constraints cap what it may set.
CREATE SETTINGS PROFILE IF NOT EXISTS dxpulse_grafana_profile;
ALTER SETTINGS PROFILE dxpulse_grafana_profile SETTINGS
    readonly = 2 CONST,
    max_execution_time = 60 MAX 300,
    max_memory_usage = 2147483648 MAX 4294967296,
    max_result_rows = 1000000 MAX 10000000,
    max_concurrent_queries_for_user = 8 CONST;

-- Rights, as roles. `WITH REPLACE OPTION` drops whatever the role had before.
CREATE ROLE IF NOT EXISTS dxpulse_ingest;
GRANT INSERT, SELECT ON {db}.* TO dxpulse_ingest WITH REPLACE OPTION;

CREATE ROLE IF NOT EXISTS dxpulse_reader;
GRANT SELECT ON {db}.* TO dxpulse_reader WITH REPLACE OPTION;

-- The workers: insert the events, aggregates, dead letters and health rows; read
-- sink_intents and their own rows back. No DDL: they run with `worker --no-migrate`.
CREATE USER IF NOT EXISTS dxpulse_writer
    IDENTIFIED WITH sha256_hash BY '{writer_sha256}' SALT '{writer_salt}';
ALTER USER dxpulse_writer
    IDENTIFIED WITH sha256_hash BY '{writer_sha256}' SALT '{writer_salt}'
    DEFAULT DATABASE {db} SETTINGS PROFILE 'dxpulse_writer_profile';
GRANT dxpulse_ingest TO dxpulse_writer WITH REPLACE OPTION;

-- People with SQL: read only, no settings changes, bounded queries.
CREATE USER IF NOT EXISTS dxpulse_analyst
    IDENTIFIED WITH sha256_hash BY '{analyst_sha256}' SALT '{analyst_salt}';
ALTER USER dxpulse_analyst
    IDENTIFIED WITH sha256_hash BY '{analyst_sha256}' SALT '{analyst_salt}'
    DEFAULT DATABASE {db} SETTINGS PROFILE 'dxpulse_analyst_profile';
GRANT dxpulse_reader TO dxpulse_analyst WITH REPLACE OPTION;

-- Grafana's datasource (deploy/grafana/provisioning/datasources/dxpulse.yaml).
CREATE USER IF NOT EXISTS dxpulse_grafana
    IDENTIFIED WITH sha256_hash BY '{grafana_sha256}' SALT '{grafana_salt}';
ALTER USER dxpulse_grafana
    IDENTIFIED WITH sha256_hash BY '{grafana_sha256}' SALT '{grafana_salt}'
    DEFAULT DATABASE {db} SETTINGS PROFILE 'dxpulse_grafana_profile';
GRANT dxpulse_reader TO dxpulse_grafana WITH REPLACE OPTION;
