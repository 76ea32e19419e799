-- A format-2 vault written by tokvault at commit 0cf04df: apps alpha and beta (Azure, client
-- secret, refresh and ID token, one access token each) and pub (public client, nothing sealed).
-- Plaintexts: NAME-client-secret, NAME-refresh, NAME-id, NAME-access. Key: format2.key.
-- Rebuilt by the tests with sqlite3; application_id is not part of .dump.
PRAGMA application_id = 1953199732;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
INSERT INTO grdb_migrations VALUES('0001_create_vault');
INSERT INTO grdb_migrations VALUES('0002_add_app_issuer');
INSERT INTO grdb_migrations VALUES('0003_add_certificate_credentials');
INSERT INTO grdb_migrations VALUES('0004_add_app_binding');
CREATE TABLE vault (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    vault_id       TEXT    NOT NULL,                 -- random UUID, in every AAD
    format_version INTEGER NOT NULL,
    key_generation INTEGER NOT NULL CHECK (key_generation >= 1),
    created_at     INTEGER NOT NULL,                 -- UTC epoch seconds
    rotated_at     INTEGER
);
INSERT INTO vault VALUES(1,'f9dc322a-4037-493d-b409-313fe9f22c4f',2,1,1796412163,NULL);
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
INSERT INTO key_slot VALUES('82b71885-2238-41d1-83bd-8ce01d698809','passphrase',1,X'3d5e068d78268939e3e2647aebfc0a00',1,8388608,NULL,X'0189b04cc78cb1ef3360eb7b00b944dfd326f011412e6e25485a0e1b68bcd7485308158b5ef4ca03ed16b62c78d867e71031e4b3855598360b6c97caa7fd48e0ad8fd13a2332606af7',1796412163);
INSERT INTO key_slot VALUES('841945ef-0d9d-4b77-bcdb-13ffae2d1c8f','keyfile',1,NULL,NULL,NULL,'9fe23900a22a81889d34a75a85bd69cc',X'012c707b9ca311eb220323c983331163fe646d53590da1a80acdc087467023e873f1457cdcbf27cea753debfa3bee6aadd001ab5427cf5e4a893cb9ff138e7daf7d693eb508d42303a',1796412163);
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
INSERT INTO session VALUES('d655fb9b-0853-437f-9897-b4670b2b613d','270b578b-b1ac-4fbb-a720-fdf544a0a33f',X'01322c5fc07c868a45e5350d7aa5dcba203538df7c82953d8a8f3452cbbc3ebf20c3026bf64bedd538151bd0b7ae8bcdf5ffa829dc45',X'01adebd7978fdd55ebac439b95ba6d91d48b568adab5a90a85f207fdda0a7387c5e75c6f692fce2d9d1a812ab95fcdecbb','alpha@example.com','0b6a2f1e-1111-4c4c-9a9a-123456789abc/.default openid profile offline_access',1796412163,1796412163);
INSERT INTO session VALUES('9da5b8b4-4c5d-40b0-893e-f0e745a54186','30e74d18-9deb-4a80-8d99-e0b3e4c5408b',X'01f0cc05c484ef8d4d6dbd785f4dbc1a9972c4cecbccfca6ebb069fec7156cc30617ae4a86b5584b0cea8d503c527538462ec1c3d5',X'01374f935da0dd2f021c450f3a8986bd9f7985385d8a95b0d198ba86458ee932ba55c116cc70193d76ce43785292033e','beta@example.com','2b6a2f1e-1111-4c4c-9a9a-123456789abc/.default openid profile offline_access',1796412163,1796412163);
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
INSERT INTO access_token VALUES('3c52fb64-d4ae-49c9-9b2a-4dd7d52fe00e','270b578b-b1ac-4fbb-a720-fdf544a0a33f','',X'0195a4f8b24ba28591363fe5f1badd8e1777a3cba29eb68d7453388d9b90b5d991c14c2b7850d7a663fddfb4c39b180794840b9592','Bearer','0b6a2f1e-1111-4c4c-9a9a-123456789abc/.default openid profile offline_access',1796415763,1796412163);
INSERT INTO access_token VALUES('7500f446-6a67-40ba-a415-9945c7efd16c','30e74d18-9deb-4a80-8d99-e0b3e4c5408b','',X'01b09160fc8690f8b219333cf7b373ac17bbaf9adda254740e9c1bb392b2fb9afc6a11646cf63a7bdfadf1315d46bdc9f4f2081d','Bearer','2b6a2f1e-1111-4c4c-9a9a-123456789abc/.default openid profile offline_access',1796415763,1796412163);
CREATE TABLE event (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    action TEXT    NOT NULL,
    app    TEXT,
    detail TEXT    NOT NULL DEFAULT ''
);
INSERT INTO event VALUES(1,1796412163,'init',NULL,'passphrase, keyfile 9fe23900a22a8188');
INSERT INTO event VALUES(2,1796412163,'add-app','alpha','client_id=0b6a2f1e-1111-4c4c-9a9a-123456789abc token_endpoint=https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');
INSERT INTO event VALUES(3,1796412163,'add-app','beta','client_id=2b6a2f1e-1111-4c4c-9a9a-123456789abc token_endpoint=https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');
INSERT INTO event VALUES(4,1796412163,'tokens','alpha','scope=0b6a2f1e-1111-4c4c-9a9a-123456789abc/.default openid profile offline_access expires=1796415763 refresh_token=rotated');
INSERT INTO event VALUES(5,1796412163,'tokens','beta','scope=2b6a2f1e-1111-4c4c-9a9a-123456789abc/.default openid profile offline_access expires=1796415763 refresh_token=rotated');
INSERT INTO event VALUES(6,1796412163,'add-app','pub','client_id=0b6a2f1e-1111-4c4c-9a9a-123456789abc token_endpoint=https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');
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
    assertion_alg      TEXT    CHECK (assertion_alg IN ('PS256', 'RS256')), binding BLOB,
    CHECK ((client_auth = 'private_key_jwt') = (certificate IS NOT NULL AND assertion_alg IS NOT NULL))
);
INSERT INTO app VALUES('270b578b-b1ac-4fbb-a720-fdf544a0a33f','alpha','azure','contoso.onmicrosoft.com','public',NULL,'0b6a2f1e-1111-4c4c-9a9a-123456789abc','https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize','https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token','https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode','http://localhost:8080','0b6a2f1e-1111-4c4c-9a9a-123456789abc/.default openid profile offline_access','authorization_code','client_secret_post',X'0108faaee69f5091eae44eed9decc36251cfbf523791b7c086576231b95d5f221cf991b0df0413171bee2faf6f55b28083d1392f97b0b26b87749b2c',1796412163,1796412163,NULL,NULL,NULL,NULL,X'b7e07fed635751d5baaa76509e180f7b2236d4f4fba51dd0ecc04f17205dd1f1');
INSERT INTO app VALUES('30e74d18-9deb-4a80-8d99-e0b3e4c5408b','beta','azure','contoso.onmicrosoft.com','public',NULL,'2b6a2f1e-1111-4c4c-9a9a-123456789abc','https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize','https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token','https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode','http://localhost:8080','2b6a2f1e-1111-4c4c-9a9a-123456789abc/.default openid profile offline_access','authorization_code','client_secret_post',X'0178c5162d29f625f71866ae15d54fd593360eed82bb3bca3fa6bb1d72240cf5fc87bf994d7c6f4ebcde2763d143865549b01c0b5838cacc227dbc',1796412163,1796412163,NULL,NULL,NULL,NULL,X'd33c231ceeb79ad7b53b046489a5a00fee56cd32d1fdea7082011902de1723d3');
INSERT INTO app VALUES('0900fd40-c611-45f9-a25d-617a3e414094','pub','azure','contoso.onmicrosoft.com','public',NULL,'0b6a2f1e-1111-4c4c-9a9a-123456789abc','https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize','https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token','https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode','http://localhost:8080','0b6a2f1e-1111-4c4c-9a9a-123456789abc/.default openid profile offline_access','authorization_code','none',NULL,1796412163,1796412163,NULL,NULL,NULL,NULL,X'0d6057a92f3d35225960910c43f9ee31625c04a92149be3292156264af2ca7ed');
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('event',6);
CREATE UNIQUE INDEX key_slot_single_passphrase ON key_slot(kind) WHERE kind = 'passphrase';
CREATE UNIQUE INDEX key_slot_keyfile ON key_slot(keyfile_fingerprint);
COMMIT;
