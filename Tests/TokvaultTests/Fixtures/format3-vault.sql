-- A format-3 vault written by tokvault at commit fc44667 (before migration 0006): app alpha (Azure,
-- client secret, imported refresh token, API base and a request header), deploy (client credentials,
-- client secret, one cached access token) and pub (public client, nothing sealed).
-- Plaintexts: alpha-client-secret, alpha-refresh, deploy-client-secret, and the access token
-- fake-at-SPWmIWM1c9zEb5EP1J7umJ91wrsbdiElLVF0-29ab-0. Key: format3.key. Rebuilt by the tests with sqlite3; application_id is not part of .dump.
PRAGMA application_id = 1953199732;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
INSERT INTO grdb_migrations VALUES('0001_create_vault');
INSERT INTO grdb_migrations VALUES('0002_add_app_issuer');
INSERT INTO grdb_migrations VALUES('0003_add_certificate_credentials');
INSERT INTO grdb_migrations VALUES('0004_add_app_binding');
INSERT INTO grdb_migrations VALUES('0005_add_app_request_defaults');
CREATE TABLE vault (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    vault_id       TEXT    NOT NULL,                 -- random UUID, in every AAD
    format_version INTEGER NOT NULL,
    key_generation INTEGER NOT NULL CHECK (key_generation >= 1),
    created_at     INTEGER NOT NULL,                 -- UTC epoch seconds
    rotated_at     INTEGER
);
INSERT INTO vault VALUES(1,'0412b7c4-5b39-44ba-a011-c0df208c654b',3,1,1796425355,NULL);
CREATE TABLE key_slot (
    id                  TEXT    PRIMARY KEY NOT NULL, -- UUID
    kind                TEXT    NOT NULL CHECK (kind IN ('passphrase', 'keyfile')),
    key_generation      INTEGER NOT NULL,
    kdf_salt            BLOB,                         -- passphrase slots: Argon2id salt (16 bytes)
    kdf_opslimit        INTEGER,
    kdf_memlimit        INTEGER,                      -- bytes
    keyfile_fingerprint TEXT,                         -- keyfile slots: hex, see docs
    wrapped_key         BLOB    NOT NULL,             -- sealed data key
    created_at          INTEGER NOT NULL,
    CHECK ((kind = 'passphrase') = (kdf_salt IS NOT NULL AND kdf_opslimit IS NOT NULL AND kdf_memlimit IS NOT NULL)),
    CHECK ((kind = 'keyfile') = (keyfile_fingerprint IS NOT NULL))
);
INSERT INTO key_slot VALUES('04dfe39e-1e8a-4b2c-8ded-6ad3a3b3fe27','keyfile',1,NULL,NULL,NULL,'f5d3fd20ce9671aa7220f45affffd518',X'010bfceff6e2c625024b9933b7536d26bed9e8b6d78894f55a134f6a8f8e11a677045f8e0c4bf4028f8ab59584d1946e647fc8bde922094144e2bceb9bf2549a7efbdbb92fc94163f6',1796425355);
CREATE TABLE session (
    id            TEXT    PRIMARY KEY NOT NULL,
    app_id        TEXT    NOT NULL UNIQUE REFERENCES app(id) ON DELETE CASCADE,
    refresh_token BLOB,                               -- sealed
    id_token      BLOB,                               -- sealed
    account       TEXT,                               -- who signed in, for display
    granted_scope TEXT,
    obtained_at   INTEGER NOT NULL,
    refreshed_at  INTEGER
);
INSERT INTO session VALUES('b63c12dc-d468-450c-8184-3f44b4e332c3','bede777b-638e-4f32-a010-1066b1c22a6a',X'01886b5e8540a3506aeffd6789dc79b2f062a23bdee4b4741b5d67d15eb841a3b40abfe34e448216a162a1197a8d6eaff2c46da73963',NULL,NULL,NULL,1796425355,NULL);
CREATE TABLE access_token (
    id            TEXT    PRIMARY KEY NOT NULL,
    app_id        TEXT    NOT NULL REFERENCES app(id) ON DELETE CASCADE,
    scope_key     TEXT    NOT NULL,
    token         BLOB    NOT NULL,                   -- sealed
    token_type    TEXT    NOT NULL,
    granted_scope TEXT,
    expires_at    INTEGER NOT NULL,                   -- UTC epoch seconds
    obtained_at   INTEGER NOT NULL,
    UNIQUE (app_id, scope_key)
);
INSERT INTO access_token VALUES('5147fb35-304b-42e2-a0d2-13b40e87ffa7','047705d4-5c59-431f-88c9-e1cdfecc1d13','',X'015a40cf3bf05d477d45b889ffa1d6383af58af89d66733adee87b2de90e7cf493301ee225c78e3236a07925b4332c962b308ad8d8b21619dfe9ae7085b11d0539b2160598ea2c9d40f26496ac0f294f4c1d2859e178d005c086e33c','Bearer',NULL,1796428955,1796425355);
CREATE TABLE event (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    action TEXT    NOT NULL,
    app    TEXT,
    detail TEXT    NOT NULL DEFAULT ''
);
INSERT INTO event VALUES(1,1796425355,'init',NULL,'keyfile f5d3fd20ce9671aa');
INSERT INTO event VALUES(2,1796425355,'add-app','alpha','client_id=11111111-2222-3333-4444-555555555555 token_endpoint=http://127.0.0.1:45257/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token');
INSERT INTO event VALUES(3,1796425355,'set','alpha','refresh_token');
INSERT INTO event VALUES(4,1796425355,'add-app','deploy','client_id=22222222-3333-4444-5555-666666666666 token_endpoint=http://127.0.0.1:45257/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token');
INSERT INTO event VALUES(5,1796425355,'client-credentials','deploy','scope=22222222-3333-4444-5555-666666666666/.default expires=1796428955');
INSERT INTO event VALUES(6,1796425355,'add-app','pub','client_id=33333333-2222-3333-4444-555555555555 token_endpoint=https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token');
CREATE TABLE IF NOT EXISTS "app" (
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
    assertion_alg      TEXT    CHECK (assertion_alg IN ('PS256', 'RS256')), binding BLOB, api_base TEXT, request_headers TEXT,
    CHECK ((client_auth = 'private_key_jwt') = (certificate IS NOT NULL AND assertion_alg IS NOT NULL))
);
INSERT INTO app VALUES('bede777b-638e-4f32-a010-1066b1c22a6a','alpha','azure','00000000-0000-0000-0000-0000000000aa',NULL,'http://127.0.0.1:45257','11111111-2222-3333-4444-555555555555','http://127.0.0.1:45257/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/authorize','http://127.0.0.1:45257/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token','http://127.0.0.1:45257/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/devicecode','http://localhost:8080','11111111-2222-3333-4444-555555555555/.default openid profile offline_access','authorization_code','client_secret_post',X'01e8adad09c7b547295f3f4d119487e38ec7df49a215b5b35b87eeb21978d7c7a9a13e70202fbde8509219ce7d64e4bb8e5b6c1057ca7090766b3b2e',1796425355,1796425355,NULL,NULL,NULL,NULL,X'75388eeed70f52bed29abe9e6ab34f0b7ffd6d3437b6aee9380a990ba68789bc','https://contoso.energy.azure.com','data-partition-id: opendes');
INSERT INTO app VALUES('047705d4-5c59-431f-88c9-e1cdfecc1d13','deploy','azure','00000000-0000-0000-0000-0000000000aa',NULL,'http://127.0.0.1:45257','22222222-3333-4444-5555-666666666666','http://127.0.0.1:45257/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/authorize','http://127.0.0.1:45257/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token','http://127.0.0.1:45257/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/devicecode','http://localhost:8080','22222222-3333-4444-5555-666666666666/.default','client_credentials','client_secret_post',X'01719c61c3a1ddaa63d98d5c20e473dce991c60ded8f61e1111db739cc5f14f56f15198d6e451af51c9e9821ac7f091dea6e71d9dfac728781ce14db8f',1796425355,1796425355,NULL,NULL,NULL,NULL,X'6a12cc82780915e1e381e787f47ff11207cbe79c1ee119db22d399b01c72460a',NULL,NULL);
INSERT INTO app VALUES('48106007-17be-4c9d-9a63-0548ae6bfadc','pub','azure','00000000-0000-0000-0000-0000000000aa','public',NULL,'33333333-2222-3333-4444-555555555555','https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/authorize','https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token','https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/devicecode','http://localhost:8080','33333333-2222-3333-4444-555555555555/.default openid profile offline_access','authorization_code','none',NULL,1796425355,1796425355,NULL,NULL,NULL,NULL,X'cdaf0eb3bf86674aee4979a61df97926eafd5b66e6d00936cdfe8d8303c8b207',NULL,NULL);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('event',6);
CREATE UNIQUE INDEX key_slot_single_passphrase ON key_slot(kind) WHERE kind = 'passphrase';
CREATE UNIQUE INDEX key_slot_keyfile ON key_slot(keyfile_fingerprint);
COMMIT;
