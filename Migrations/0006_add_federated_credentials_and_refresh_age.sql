-- Federated client credentials (a client assertion the app's platform issues: a Kubernetes
-- projected token file or GitHub Actions' OIDC token), the app's client capabilities (`cp1`),
-- and what is known about a session's refresh token: when it was issued, when it expires
-- (`refresh_expires_in`) and when it was last refused. `client_auth` gains
-- 'federated_assertion'; SQLite cannot change a CHECK in place, so the app table is rebuilt as
-- in 0003 (sessions and tokens keep their app ids). The new app columns steer where a grant
-- goes and what it proves, so the app binding covers them when set (docs/vault-format.md §5.4);
-- NULL in every app written before, they leave existing bindings as they are.
CREATE TABLE app_new (
    id                   TEXT    PRIMARY KEY NOT NULL,
    name                 TEXT    NOT NULL UNIQUE,
    provider             TEXT    NOT NULL CHECK (provider IN ('azure', 'oauth')),
    tenant               TEXT,
    cloud                TEXT,
    authority_host       TEXT,
    client_id            TEXT    NOT NULL,
    authorize_endpoint   TEXT    NOT NULL,
    token_endpoint       TEXT    NOT NULL,
    device_endpoint      TEXT,
    redirect_uri         TEXT    NOT NULL,
    scope                TEXT    NOT NULL,
    flow                 TEXT    NOT NULL DEFAULT 'authorization_code'
                                 CHECK (flow IN ('authorization_code', 'client_credentials')),
    client_auth          TEXT    NOT NULL
                                 CHECK (client_auth IN ('client_secret_post', 'client_secret_basic', 'private_key_jwt',
                                                        'federated_assertion', 'none')),
    client_secret        BLOB,                        -- sealed; NULL for public clients, certificate and federated apps
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    issuer               TEXT,
    certificate          BLOB,                        -- X.509 DER, public: show/doctor read it without unlocking
    private_key          BLOB,                        -- sealed PKCS#8 DER of the certificate's RSA key
    assertion_alg        TEXT    CHECK (assertion_alg IN ('PS256', 'RS256')),
    binding              BLOB,
    api_base             TEXT,
    request_headers      TEXT,
    federated_source     TEXT    CHECK (federated_source IN ('file', 'github-actions')),
    federated_token_file TEXT,                        -- absolute path, read afresh for every grant
    federated_audience   TEXT,                        -- github-actions: the audience asked for
    client_capabilities  TEXT,                        -- e.g. 'cp1' (continuous access evaluation)
    CHECK ((client_auth = 'private_key_jwt') = (certificate IS NOT NULL AND assertion_alg IS NOT NULL)),
    CHECK ((client_auth = 'federated_assertion') = (federated_source IS NOT NULL)),
    CHECK ((federated_source IS 'file') = (federated_token_file IS NOT NULL))
);
INSERT INTO app_new (id, name, provider, tenant, cloud, authority_host, client_id, authorize_endpoint,
                     token_endpoint, device_endpoint, redirect_uri, scope, flow, client_auth, client_secret,
                     created_at, updated_at, issuer, certificate, private_key, assertion_alg, binding,
                     api_base, request_headers)
    SELECT id, name, provider, tenant, cloud, authority_host, client_id, authorize_endpoint,
           token_endpoint, device_endpoint, redirect_uri, scope, flow, client_auth, client_secret,
           created_at, updated_at, issuer, certificate, private_key, assertion_alg, binding,
           api_base, request_headers
    FROM app;
DROP TABLE app;
ALTER TABLE app_new RENAME TO app;
ALTER TABLE session ADD COLUMN refresh_issued_at INTEGER;   -- when the stored refresh token arrived
ALTER TABLE session ADD COLUMN refresh_expires_at INTEGER;  -- from refresh_expires_in, where sent
ALTER TABLE session ADD COLUMN refresh_refused_at INTEGER;  -- the last refresh the server refused
ALTER TABLE session ADD COLUMN refresh_refusal TEXT;        -- its error code (never a secret)
