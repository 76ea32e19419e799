-- Certificate credentials (a client assertion JWT signed with the app's private key) and the
-- client credentials flow. `client_auth` gains 'private_key_jwt' and `flow` gets its CHECK;
-- SQLite cannot change a CHECK in place, so the table is rebuilt (foreign keys are off while
-- a migration runs and checked afterwards; sessions and tokens keep their app ids).
CREATE TABLE app_new (
    id                 TEXT    PRIMARY KEY NOT NULL,
    name               TEXT    NOT NULL UNIQUE,
    provider           TEXT    NOT NULL CHECK (provider IN ('azure', 'oauth')),
    tenant             TEXT,
    cloud              TEXT,
    authority_host     TEXT,
    client_id          TEXT    NOT NULL,
    authorize_endpoint TEXT    NOT NULL,
    token_endpoint     TEXT    NOT NULL,
    device_endpoint    TEXT,
    redirect_uri       TEXT    NOT NULL,
    scope              TEXT    NOT NULL,
    flow               TEXT    NOT NULL DEFAULT 'authorization_code'
                               CHECK (flow IN ('authorization_code', 'client_credentials')),
    client_auth        TEXT    NOT NULL
                               CHECK (client_auth IN ('client_secret_post', 'client_secret_basic', 'private_key_jwt', 'none')),
    client_secret      BLOB,                          -- sealed; NULL for public clients and certificate apps
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    issuer             TEXT,
    certificate        BLOB,                          -- X.509 DER, public: show/doctor read it without unlocking
    private_key        BLOB,                          -- sealed PKCS#8 DER of the certificate's RSA key
    assertion_alg      TEXT    CHECK (assertion_alg IN ('PS256', 'RS256')),
    CHECK ((client_auth = 'private_key_jwt') = (certificate IS NOT NULL AND assertion_alg IS NOT NULL))
);
INSERT INTO app_new (id, name, provider, tenant, cloud, authority_host, client_id, authorize_endpoint,
                     token_endpoint, device_endpoint, redirect_uri, scope, flow, client_auth, client_secret,
                     created_at, updated_at, issuer)
    SELECT id, name, provider, tenant, cloud, authority_host, client_id, authorize_endpoint,
           token_endpoint, device_endpoint, redirect_uri, scope, flow, client_auth, client_secret,
           created_at, updated_at, issuer
    FROM app;
DROP TABLE app;
ALTER TABLE app_new RENAME TO app;
