-- Vault format 2: the MAC over every column of an app that decides where its secrets, tokens
-- and sign-in go (docs/vault-format.md §5.4). NULL until the first unlock upgrades the vault
-- from format 1 (the MAC needs the data key, which a migration does not have).
ALTER TABLE app ADD COLUMN binding BLOB;
