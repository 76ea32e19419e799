-- Vault format 3: what `tokvault curl` adds to every request of an app — an API base URL and
-- default request headers, one "Name: value" per line (docs/vault-format.md §2). Both steer
-- where a token goes, so the format 3 binding covers them (§5.4); NULL until set.
ALTER TABLE app ADD COLUMN api_base TEXT;
ALTER TABLE app ADD COLUMN request_headers TEXT;
