-- The database every dxpulse object lives in. {db} is replaced by the configured name.
CREATE DATABASE IF NOT EXISTS {db};
