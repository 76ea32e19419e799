-- tokvault vault schema, format version 1. See docs/vault-format.md.
-- Shipped migrations are never edited: add 0002_... instead.

-- "tkvt": lets tokvault tell its own vaults from other SQLite files.
PRAGMA application_id = 1953199732;

-- Exactly one row: the vault's identity and the current data-key generation.
CREATE TABLE vault (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    vault_id       TEXT    NOT NULL,                 -- random UUID, in every AAD
    format_version INTEGER NOT NULL,
    key_generation INTEGER NOT NULL CHECK (key_generation >= 1),
    created_at     INTEGER NOT NULL,                 -- UTC epoch seconds
    rotated_at     INTEGER
);

-- The data key, wrapped once per way of unlocking the vault.
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
CREATE UNIQUE INDEX key_slot_single_passphrase ON key_slot(kind) WHERE kind = 'passphrase';
CREATE UNIQUE INDEX key_slot_keyfile ON key_slot(keyfile_fingerprint);

-- App registrations. Everything but the client secret is plain, so list/show need no unlock.
CREATE TABLE app (
    id                 TEXT    PRIMARY KEY NOT NULL,  -- UUID, stable across renames; in the AAD
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
    flow               TEXT    NOT NULL DEFAULT 'authorization_code',
    client_auth        TEXT    NOT NULL CHECK (client_auth IN ('client_secret_post', 'client_secret_basic', 'none')),
    client_secret      BLOB,                          -- sealed; NULL for public clients
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

-- A signed-in user's grant for an app: the refresh token and the ID token that came with it.
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

-- Cached access tokens, one per app and requested scope ('' = the app's own scope).
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

-- Audit trail of writes and refreshes. Never holds a secret.
CREATE TABLE event (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    action TEXT    NOT NULL,
    app    TEXT,
    detail TEXT    NOT NULL DEFAULT ''
);
