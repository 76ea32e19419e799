-- OpenID Connect issuer of apps added with `add-app --issuer URL` (discovery), so that the
-- `iss` of their ID tokens can be checked. NULL for Azure apps (derived) and explicit endpoints.
ALTER TABLE app ADD COLUMN issuer TEXT;
