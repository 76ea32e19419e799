#!/usr/bin/env python3
"""Generates the vault format test vectors in Tests/TokvaultTests/Vectors/.

This is a second, independent implementation of the on-disk formats, written from
their description rather than from the Swift code:

  * associated data: `name:LEN:value\\n` per field, LEN = decimal UTF-8 byte count;
  * sealed field: 0x01 || nonce(24) || XChaCha20-Poly1305-IETF ciphertext+tag, with AAD
    fields tokvault=sealed-field, version=1, generation, vault, table, column, row, app,
    client_id, token_endpoint (in that order);
  * key slot: the 32-byte data key sealed the same way under a key-encryption key, with AAD
    fields tokvault=key-slot, version=1, generation, vault, slot, kind, detail, where detail is
    `argon2id13;ops=N;mem=BYTES;salt=HEX` (passphrase) or `fingerprint=HEX` (key file);
  * passphrase KEK: Argon2id v1.3 (passphrase, 16-byte salt, ops, mem), 32 bytes;
  * key file: `tokvault-keyfile-v1:` + base64url-no-padding(32 bytes) + "\\n", or 32 raw
    bytes; KEK = keyed BLAKE2b-256(key=file key, "tokvault keyfile kek v1"); fingerprint =
    hex(keyed BLAKE2b-128(key=file key, "tokvault keyfile fingerprint v1")).

Vault format 2 (docs/vault-format.md §5.2, §5.4) adds:

  * app binding: keyed BLAKE2b-256 with key = keyed BLAKE2b-256(key=data key,
    "tokvault app binding key v2") over the AAD encoding of tokvault=app-binding, version=2,
    generation, vault, app (id), name, provider, then tenant, cloud, authority_host, client_id,
    authorize_endpoint, token_endpoint, device_endpoint, redirect_uri, scope, flow, client_auth,
    issuer, certificate (hex of the DER), assertion_alg, each left out when NULL;
  * format 3 (§5.4): the binding message says version=3 and ends with api_base and
    request_headers (one `Name: value` per line, joined by \\n), each left out when NULL; a
    format 2 reader lists them too, so either set in a format 2 file fails its binding;
  * sealed field, format 2: AAD fields tokvault=sealed-field, version=2, generation, vault,
    table, column, row, app, scope_key (the access token's, '' elsewhere), binding (hex).

Every input (keys, nonces, salts, identifiers) is fixed, so re-running the script rewrites
byte-identical files. Requires PyNaCl (`pip install pynacl`).

Vector file format: UTF-8 text, one `name: value` per line (byte strings in lowercase hex,
text as is), lines starting with `#` are comments; the first line says what the vector checks.
`good_*.txt` must open to the expected plaintext; `fail_*.txt` must be rejected, at the stage
named by `reject_at`.

Usage: python3 scripts/gen-vectors.py [output-dir]
"""

import base64
import hashlib
import os
import sys

import nacl.bindings as sodium
import nacl.encoding
import nacl.hash

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "Tests", "TokvaultTests", "Vectors")

FORMAT_VERSION = 1
NONCE_BYTES = 24
TAG_BYTES = 16
KEY_BYTES = 32
SALT_BYTES = 16

KEYFILE_PREFIX = b"tokvault-keyfile-v1:"
KEYFILE_KEK_CONTEXT = b"tokvault keyfile kek v1"
KEYFILE_FINGERPRINT_CONTEXT = b"tokvault keyfile fingerprint v1"

# Bounds a reader enforces on stored Argon2id parameters before hashing.
MIN_OPS, MAX_OPS = 1, 16
MIN_MEM, MAX_MEM = 8 << 20, 1 << 30

# Cheap parameters so the test suite stays fast.
TEST_OPS = 1
TEST_MEM = 8 << 20


# ---------------------------------------------------------------------------
# Deterministic inputs


def fixed(label, n):
    """n deterministic bytes derived from a label (test inputs only, not part of the format)."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(b"tokvault test vector input|%d|" % counter + label.encode()).digest()
        counter += 1
    return out[:n]


def flip(data, index, mask=0x01):
    b = bytearray(data)
    b[index] ^= mask
    return bytes(b)


# ---------------------------------------------------------------------------
# Format, implemented from its description


def encode_aad(fields):
    out = bytearray()
    for name, value in fields:
        raw = value.encode("utf-8")
        out += name.encode("utf-8") + b":" + str(len(raw)).encode("ascii") + b":" + raw + b"\n"
    return bytes(out)


def sealed_field_aad(vault, generation, place):
    return encode_aad([
        ("tokvault", "sealed-field"),
        ("version", str(FORMAT_VERSION)),
        ("generation", str(generation)),
        ("vault", vault),
        ("table", place["table"]),
        ("column", place["column"]),
        ("row", place["row"]),
        ("app", place["app"]),
        ("client_id", place["client_id"]),
        ("token_endpoint", place["token_endpoint"]),
    ])


def sealed_field_aad_v2(vault, generation, place):
    return encode_aad([
        ("tokvault", "sealed-field"),
        ("version", "2"),
        ("generation", str(generation)),
        ("vault", vault),
        ("table", place["table"]),
        ("column", place["column"]),
        ("row", place["row"]),
        ("app", place["app"]),
        ("scope_key", place["scope_key"]),
        ("binding", place["binding"].hex()),
    ])


BINDING_KEY_LABEL = b"tokvault app binding key v2"
BOUND_COLUMNS = ["tenant", "cloud", "authority_host", "client_id", "authorize_endpoint", "token_endpoint",
                 "device_endpoint", "redirect_uri", "scope", "flow", "client_auth", "issuer", "certificate",
                 "assertion_alg", "api_base", "request_headers",
                 # Migration 0006, within format 3: left out when NULL, as every column is.
                 "federated_source", "federated_token_file", "federated_audience", "client_capabilities"]


def app_binding_message(vault, generation, app, format=2):
    version = "3" if format >= 3 else "2"
    fields = [("tokvault", "app-binding"), ("version", version), ("generation", str(generation)), ("vault", vault),
              ("app", app["id"]), ("name", app["name"]), ("provider", app["provider"])]
    for column in BOUND_COLUMNS:
        value = app.get(column)
        if value is None:
            continue
        fields.append((column, value.hex() if isinstance(value, bytes) else value))
    return encode_aad(fields)


def app_binding(data_key, vault, generation, app, format=2):
    mac_key = keyed_blake2b(data_key, BINDING_KEY_LABEL, 32)
    return keyed_blake2b(mac_key, app_binding_message(vault, generation, app, format), 32)


def key_slot_aad(vault, slot_id, kind, generation, detail):
    return encode_aad([
        ("tokvault", "key-slot"),
        ("version", str(FORMAT_VERSION)),
        ("generation", str(generation)),
        ("vault", vault),
        ("slot", slot_id),
        ("kind", kind),
        ("detail", detail),
    ])


def passphrase_detail(ops, mem, salt):
    return "argon2id13;ops=%d;mem=%d;salt=%s" % (ops, mem, salt.hex())


def keyfile_detail(fingerprint):
    return "fingerprint=" + fingerprint


def seal(key, nonce, plaintext, aad, version=FORMAT_VERSION):
    assert len(key) == KEY_BYTES and len(nonce) == NONCE_BYTES
    body = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)
    return bytes([version]) + nonce + body


def open_sealed(key, sealed, aad):
    """Reference opener: plaintext, or None when the value must be rejected."""
    if len(sealed) < 1 + NONCE_BYTES + TAG_BYTES or sealed[0] != FORMAT_VERSION:
        return None
    nonce, body = sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:]
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(body, aad, nonce, key)
    except Exception:
        return None


def argon2id(passphrase, salt, ops, mem):
    assert len(salt) == SALT_BYTES
    return sodium.crypto_pwhash_alg(KEY_BYTES, passphrase, salt, ops, mem, sodium.crypto_pwhash_ALG_ARGON2ID13)


def keyed_blake2b(key, message, size):
    digest = nacl.hash.blake2b(message, digest_size=size, key=key, encoder=nacl.encoding.RawEncoder)
    # Cross-check against Python's own BLAKE2b, a separate implementation.
    assert digest == hashlib.blake2b(message, digest_size=size, key=key).digest()
    return digest


def keyfile_kek(key):
    return keyed_blake2b(key, KEYFILE_KEK_CONTEXT, 32)


def keyfile_fingerprint(key):
    return keyed_blake2b(key, KEYFILE_FINGERPRINT_CONTEXT, 16).hex()


def b64url_nopad(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def render_keyfile(key):
    return KEYFILE_PREFIX + b64url_nopad(key) + b"\n"


B64URL_ALPHABET = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def parse_keyfile(contents):
    """Reference parser: the 32-byte key, or None when the contents are not a key file."""
    if len(contents) == 32 and not contents.startswith(KEYFILE_PREFIX):
        return contents
    text = contents.rstrip(b"\r\n ")
    if not text.startswith(KEYFILE_PREFIX):
        return None
    body = text[len(KEYFILE_PREFIX):]
    if not body or any(c not in B64URL_ALPHABET for c in body) or len(body) % 4 == 1:
        return None
    key = base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4))
    if b64url_nopad(key) != body:  # non-zero trailing bits: not a canonical encoding
        return None
    return key if len(key) == 32 else None


def kdf_within_bounds(ops, mem):
    return MIN_OPS <= ops <= MAX_OPS and MIN_MEM <= mem <= MAX_MEM


# ---------------------------------------------------------------------------
# Vector files

vectors = {}


def emit(name, what, fields):
    assert name.startswith(("good_", "fail_")), name
    assert name not in vectors, name
    lines = ["# " + what]
    for key, value in fields:
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).hex()
        value = str(value)
        assert "\n" not in value and "\r" not in value, (name, key)
        lines.append("%s: %s" % (key, value) if value else "%s:" % key)
    vectors[name] = "\n".join(lines) + "\n"


VAULT = "0b8e5a6c-3f2d-4e71-9c0a-5d4b3a291807"
OTHER_VAULT = "7c1f9e2a-8b3d-4c56-a0e9-1f2e3d4c5b6a"
APP_ID = "3a7d2c9e-0f41-4b8a-b6e2-9d1c8f7a6e50"
SESSION_ID = "e4f3a2b1-c0d9-4e8f-a7b6-c5d4e3f2a1b0"
GENERATION = 3
DATA_KEY = fixed("data key", 32)

SECRET_PLACE = {
    "table": "app",
    "column": "client_secret",
    "row": APP_ID,
    "app": APP_ID,
    "client_id": "0f9a7c2e-5b1d-4a3c-8e6f-2d1c0b9a8f7e",
    "token_endpoint": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
}


def sealed_vector(name, what, *, seal_key=DATA_KEY, seal_vault=VAULT, seal_generation=GENERATION,
                  seal_place=SECRET_PLACE, open_key=None, open_vault=None, open_generation=None,
                  open_place=None, plaintext, nonce_label, mutate=None):
    open_key = seal_key if open_key is None else open_key
    open_vault = seal_vault if open_vault is None else open_vault
    open_generation = seal_generation if open_generation is None else open_generation
    open_place = seal_place if open_place is None else open_place

    sealed = seal(seal_key, fixed(nonce_label, NONCE_BYTES), plaintext,
                  sealed_field_aad(seal_vault, seal_generation, seal_place))
    if mutate is not None:
        sealed = mutate(sealed)
    aad = sealed_field_aad(open_vault, open_generation, open_place)
    result = open_sealed(open_key, sealed, aad)
    good = name.startswith("good_")
    if good:
        assert result == plaintext, name
    else:
        assert result is None, name

    fields = [
        ("kind", "sealed-field"),
        ("data_key", open_key),
        ("generation", open_generation),
        ("vault", open_vault),
        ("table", open_place["table"]),
        ("column", open_place["column"]),
        ("row", open_place["row"]),
        ("app", open_place["app"]),
        ("client_id", open_place["client_id"]),
        ("token_endpoint", open_place["token_endpoint"]),
        ("aad", aad),
        ("sealed", sealed),
    ]
    fields += [("plaintext", plaintext)] if good else [("reject_at", "open")]
    emit(name, what, fields)


def sealed_vectors():
    secret = b"Qx8~kR2.vT5_wL9-mN3pZ7cB4yH6jF1dG0sA"
    good = dict(plaintext=secret, nonce_label="nonce client secret")

    sealed_vector("good_sealed_client_secret",
                  "sealed app.client_secret opens under the right key and place", **good)
    sealed_vector("good_sealed_empty_plaintext",
                  "sealed empty value (ciphertext is only the tag) opens to zero bytes",
                  plaintext=b"", nonce_label="nonce empty")

    unicode_place = dict(SECRET_PLACE,
                         client_id="clïent-ß-测试-\U0001F511",
                         token_endpoint="https://例え.jp/oauth2/トークン?tenant=Zürich")
    sealed_vector("good_sealed_non_ascii_place",
                  "non-ASCII client_id and token_endpoint: AAD lengths count UTF-8 bytes, not characters",
                  seal_place=unicode_place, plaintext="sécret-ключ-🔐".encode("utf-8"), nonce_label="nonce unicode")

    refresh_place = dict(SECRET_PLACE, table="session", column="refresh_token", row=SESSION_ID)
    sealed_vector("good_sealed_refresh_token",
                  "sealed session.refresh_token opens under its own row",
                  seal_place=refresh_place, plaintext=b"0.AXEA" + b"r" * 300 + b".refresh", nonce_label="nonce refresh")

    colon_place = dict(SECRET_PLACE, client_id="a:1:b\\n:c", token_endpoint="https://idp.example:8443/t:o:k")
    sealed_vector("good_sealed_separators_in_values",
                  "values containing ':' and digits open; the length prefix keeps the encoding unambiguous",
                  seal_place=colon_place, plaintext=b"colon-secret", nonce_label="nonce colon")

    # Damaged bytes.
    body_start = 1 + NONCE_BYTES
    sealed_vector("fail_sealed_flipped_ciphertext_bit", "one bit flipped in the ciphertext",
                  mutate=lambda s: flip(s, body_start + 5), **good)
    sealed_vector("fail_sealed_flipped_tag_bit", "one bit flipped in the Poly1305 tag",
                  mutate=lambda s: flip(s, len(s) - 1, 0x80), **good)
    sealed_vector("fail_sealed_flipped_nonce_bit", "one bit flipped in the nonce",
                  mutate=lambda s: flip(s, 1 + 10, 0x04), **good)
    sealed_vector("fail_sealed_version_2", "version byte 0x02 instead of 0x01, rest intact",
                  mutate=lambda s: b"\x02" + s[1:], **good)
    sealed_vector("fail_sealed_version_0", "version byte 0x00 instead of 0x01, rest intact",
                  mutate=lambda s: b"\x00" + s[1:], **good)
    sealed_vector("fail_sealed_truncated_below_minimum",
                  "40 bytes: one short of version + nonce + tag (empty plaintext)",
                  plaintext=b"", nonce_label="nonce empty", mutate=lambda s: s[:1 + NONCE_BYTES + TAG_BYTES - 1])
    sealed_vector("fail_sealed_truncated_tag", "last byte of the tag cut off",
                  mutate=lambda s: s[:-1], **good)
    sealed_vector("fail_sealed_only_version_byte", "just the version byte",
                  mutate=lambda s: s[:1], **good)
    sealed_vector("fail_sealed_empty", "zero bytes", mutate=lambda s: b"", **good)
    sealed_vector("fail_sealed_appended_byte", "one extra byte after the tag",
                  mutate=lambda s: s + b"\x00", **good)

    # Authentic ciphertext, wrong context.
    sealed_vector("fail_sealed_moved_to_other_row", "ciphertext copied to another app's row",
                  open_place=dict(SECRET_PLACE, row="9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a"), **good)
    sealed_vector("fail_sealed_moved_to_other_column", "client_secret ciphertext read as another column",
                  open_place=dict(SECRET_PLACE, column="refresh_token"), **good)
    sealed_vector("fail_sealed_moved_to_other_table", "app ciphertext read from the session table",
                  open_place=dict(SECRET_PLACE, table="session"), **good)
    sealed_vector("fail_sealed_other_app", "ciphertext bound to another app id",
                  open_place=dict(SECRET_PLACE, app="9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a"), **good)
    sealed_vector("fail_sealed_different_client_id", "app's client_id edited in the file",
                  open_place=dict(SECRET_PLACE, client_id="0f9a7c2e-5b1d-4a3c-8e6f-2d1c0b9a8f7f"), **good)
    sealed_vector("fail_sealed_different_token_endpoint", "app's token endpoint pointed elsewhere",
                  open_place=dict(SECRET_PLACE, token_endpoint="https://attacker.example/oauth2/v2.0/token"), **good)
    sealed_vector("fail_sealed_different_generation", "ciphertext of generation 3 opened as generation 4",
                  open_generation=GENERATION + 1, **good)
    sealed_vector("fail_sealed_different_vault", "ciphertext copied from another vault with the same key",
                  open_vault=OTHER_VAULT, **good)
    sealed_vector("fail_sealed_wrong_key", "right place, different data key",
                  open_key=fixed("other data key", 32), **good)
    sealed_vector("fail_sealed_field_boundary_shift",
                  "bytes moved between adjacent fields (client_id 'ab'+endpoint 'c' vs 'a'+'bc')",
                  seal_place=dict(SECRET_PLACE, client_id="ab", token_endpoint="c"),
                  open_place=dict(SECRET_PLACE, client_id="a", token_endpoint="bc"),
                  plaintext=secret, nonce_label="nonce boundary")
    # "café" precomposed (NFC) when sealed, decomposed (NFD) when opened: equal as Unicode
    # strings, different bytes. AAD is over bytes, so this must not open.
    sealed_vector("fail_sealed_client_id_unicode_normalization",
                  "client_id NFC when sealed, NFD when opened: canonically equal text, different bytes",
                  seal_place=dict(SECRET_PLACE, client_id="caf\u00e9"),
                  open_place=dict(SECRET_PLACE, client_id="cafe\u0301"),
                  plaintext=secret, nonce_label="nonce normalization")


SLOT_ID = "5f0c3a9e-1b2d-4c8e-9a7f-0123456789ab"
OTHER_SLOT_ID = "a1b2c3d4-e5f6-4789-8abc-def012345678"
PASSPHRASE = "correct horse battery staple".encode("utf-8")
SALT = fixed("passphrase salt", SALT_BYTES)


AZURE_APP = {
    "id": APP_ID, "name": "adme", "provider": "azure", "tenant": "contoso.onmicrosoft.com", "cloud": "public",
    "client_id": "0f9a7c2e-5b1d-4a3c-8e6f-2d1c0b9a8f7e",
    "authorize_endpoint": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
    "token_endpoint": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
    "device_endpoint": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode",
    "redirect_uri": "http://localhost:8080",
    "scope": "0f9a7c2e-5b1d-4a3c-8e6f-2d1c0b9a8f7e/.default openid profile offline_access",
    "flow": "authorization_code", "client_auth": "client_secret_post",
}
OAUTH_APP = {
    "id": "5c2b1a09-8f7e-4d6c-b5a4-3f2e1d0c9b8a", "name": "okta", "provider": "oauth",
    "client_id": "0oa1b2c3d4", "authorize_endpoint": "https://idp.example.com/oauth2/v1/authorize",
    "token_endpoint": "https://idp.example.com/oauth2/v1/token",
    "device_endpoint": "https://idp.example.com/oauth2/v1/device/authorize",
    "redirect_uri": "http://127.0.0.1:8400/callback", "scope": "openid offline_access",
    "flow": "authorization_code", "client_auth": "client_secret_basic", "issuer": "https://idp.example.com",
}
CERT_APP = {
    "id": "9e8d7c6b-5a49-4382-a1f0-e9d8c7b6a594", "name": "deploy", "provider": "azure",
    "tenant": "00000000-0000-0000-0000-0000000000aa", "cloud": "usgov",
    "client_id": "22222222-3333-4444-5555-666666666666", "authorize_endpoint": "",
    "token_endpoint": "https://login.microsoftonline.us/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token",
    "redirect_uri": "http://localhost:8080", "scope": "22222222-3333-4444-5555-666666666666/.default",
    "flow": "client_credentials", "client_auth": "private_key_jwt",
    "certificate": bytes.fromhex("3082010a0282010100") + fixed("certificate der", 40), "assertion_alg": "PS256",
}


FEDERATED_APP = dict(CERT_APP, client_auth="federated_assertion", federated_source="file",
                     federated_token_file="/var/run/secrets/azure/tokens/azure-identity-token")
del FEDERATED_APP["certificate"]
del FEDERATED_APP["assertion_alg"]
GITHUB_APP = dict(FEDERATED_APP, federated_source="github-actions", federated_audience="api://AzureADTokenExchangeUSGov",
                  client_capabilities="cp1")
del GITHUB_APP["federated_token_file"]


REQUEST_APP = dict(AZURE_APP, api_base="https://contoso.energy.azure.com",
                   request_headers="data-partition-id: opendes\nAccept: application/json")


def binding_vector(name, what, *, app, stored_app=None, key=DATA_KEY, vault=VAULT, generation=GENERATION,
                   stored_key=DATA_KEY, stored_vault=VAULT, stored_generation=GENERATION, mutate=None,
                   format=2, stored_format=None):
    """The binding was computed over `stored_app` (what was sealed) and the reader sees `app`,
    reading a vault of format `format` (the binding was made at `stored_format`, the same unless given)."""
    stored = app_binding(stored_key, stored_vault, stored_generation, stored_app or app,
                         format if stored_format is None else stored_format)
    if mutate is not None:
        stored = mutate(stored)
    computed = app_binding(key, vault, generation, app, format)
    good = name.startswith("good_")
    assert (stored == computed) == good, name
    fields = [("kind", "app-binding")]
    if format != 2:
        fields.append(("format", format))
    fields += [("data_key", key), ("generation", generation), ("vault", vault)]
    # request_headers holds newlines, so its vector line is the hex of its UTF-8 bytes.
    fields += [(column, app[column].encode() if column == "request_headers" else app[column])
               for column in ["id", "name", "provider"] + BOUND_COLUMNS if app.get(column) is not None]
    fields += [("message", app_binding_message(vault, generation, app, format)), ("binding", stored)]
    if not good:
        fields.append(("reject_at", "verify"))
    emit(name, what, fields)


def binding_vectors():
    binding_vector("good_binding_azure_app", "an Azure app's binding verifies over its stored columns", app=AZURE_APP)
    binding_vector("good_binding_oauth_app", "a generic OAuth app with device endpoint and issuer (no tenant or cloud: left out)",
                   app=OAUTH_APP)
    binding_vector("good_binding_certificate_app", "a client credentials app with a certificate (hex DER) and an empty authorize endpoint",
                   app=CERT_APP)
    binding_vector("good_binding_separators_in_values", "values holding ':' and digits stay unambiguous",
                   app=dict(OAUTH_APP, name="a:1:b", scope="x:2:y 3:z"))
    for column, value, why in [
            ("device_endpoint", "https://evil.example/devicecode", "device endpoint pointed elsewhere (the client secret would follow)"),
            ("authorize_endpoint", "https://evil.example/authorize", "authorize endpoint pointed at a phishing page"),
            ("token_endpoint", "https://evil.example/token", "token endpoint pointed elsewhere"),
            ("redirect_uri", "http://127.0.0.1:9/", "redirect URI moved to another local port"),
            ("scope", "https://evil.example/.default", "scope edited"),
            ("client_id", "3f9a7c2e-5b1d-4a3c-8e6f-2d1c0b9a8f7e", "client id edited"),
            ("client_auth", "client_secret_basic", "client authentication edited"),
            ("flow", "client_credentials", "flow edited"),
            ("name", "adme-prod", "name edited (two apps' names swapped)"),
            ("provider", "oauth", "provider edited")]:
        binding_vector("fail_binding_%s_edited" % column, why, app=dict(AZURE_APP, **{column: value}), stored_app=AZURE_APP)
    binding_vector("fail_binding_null_column_set", "a NULL column (issuer) given a value",
                   app=dict(AZURE_APP, issuer="https://evil.example"), stored_app=AZURE_APP)
    no_device = dict(AZURE_APP)
    del no_device["device_endpoint"]
    binding_vector("fail_binding_column_nulled", "a bound column (device endpoint) set to NULL", app=no_device, stored_app=AZURE_APP)
    binding_vector("fail_binding_certificate_edited", "the certificate replaced",
                   app=dict(CERT_APP, certificate=fixed("other certificate", 48)), stored_app=CERT_APP)
    binding_vector("fail_binding_other_generation", "a binding of generation 3 checked at generation 4",
                   app=AZURE_APP, generation=GENERATION + 1)
    binding_vector("fail_binding_other_vault", "a binding copied from another vault with the same key",
                   app=AZURE_APP, stored_vault=OTHER_VAULT)
    binding_vector("fail_binding_wrong_key", "a binding made with another data key", app=AZURE_APP,
                   stored_key=fixed("other data key", 32))
    binding_vector("fail_binding_flipped_bit", "one bit of the stored binding flipped", app=AZURE_APP,
                   mutate=lambda b: flip(b, 9))
    binding_vector("fail_binding_other_app_id", "the binding of the same columns under another app id",
                   app=dict(AZURE_APP, id=SESSION_ID), stored_app=AZURE_APP)
    # Format 3: the API base and request headers of `tokvault curl` join the bound columns.
    binding_vector("good_binding_v3_azure_app", "format 3: an app without API base or headers (both left out)",
                   app=AZURE_APP, format=3)
    binding_vector("good_binding_v3_request_defaults", "format 3: an API base and two headers, one 'Name: value' per line",
                   app=REQUEST_APP, format=3)
    binding_vector("fail_binding_v3_api_base_edited", "format 3: the API base pointed elsewhere (the token would follow)",
                   app=dict(REQUEST_APP, api_base="https://evil.example"), stored_app=REQUEST_APP, format=3)
    binding_vector("fail_binding_v3_request_headers_edited", "format 3: a header added to the stored ones",
                   app=dict(REQUEST_APP, request_headers=REQUEST_APP["request_headers"] + "\nX-Forward-To: evil.example"),
                   stored_app=REQUEST_APP, format=3)
    no_base = dict(REQUEST_APP)
    del no_base["api_base"]
    binding_vector("fail_binding_v3_api_base_nulled", "format 3: the API base set to NULL (any origin would be allowed)",
                   app=no_base, stored_app=REQUEST_APP, format=3)
    binding_vector("fail_binding_v2_read_as_v3", "a format 2 binding checked as format 3 (version 2 vs 3 in the message)",
                   app=AZURE_APP, format=3, stored_format=2)
    binding_vector("fail_binding_v3_read_as_v2", "a format 3 binding checked as format 2 (a file claiming format 2 again)",
                   app=AZURE_APP, format=2, stored_format=3)
    # Migration 0006's columns join the format 3 message when set (NULL: the message is unchanged).
    binding_vector("good_binding_v3_federated_file", "format 3: a federated app reading a projected token file",
                   app=FEDERATED_APP, format=3)
    binding_vector("good_binding_v3_federated_github", "format 3: a GitHub Actions federated app with its audience and cp1",
                   app=GITHUB_APP, format=3)
    binding_vector("fail_binding_v3_federated_token_file_edited", "format 3: the token file pointed elsewhere",
                   app=dict(FEDERATED_APP, federated_token_file="/tmp/planted-token"), stored_app=FEDERATED_APP, format=3)
    binding_vector("fail_binding_v3_federated_audience_edited", "format 3: the GitHub audience changed",
                   app=dict(GITHUB_APP, federated_audience="api://evil.example"), stored_app=GITHUB_APP, format=3)
    binding_vector("fail_binding_v3_federated_credential_planted", "format 3: a secret app made federated in the file",
                   app=dict(AZURE_APP, client_auth="federated_assertion", federated_source="file",
                            federated_token_file="/tmp/planted-token"), stored_app=AZURE_APP, format=3)
    binding_vector("fail_binding_v3_client_capabilities_set", "format 3: client capabilities planted",
                   app=dict(AZURE_APP, client_capabilities="cp1"), stored_app=AZURE_APP, format=3)
    binding_vector("fail_binding_v2_api_base_set", "format 2 (columns added by migration 0005, not yet upgraded): an API base planted",
                   app=dict(AZURE_APP, api_base="https://evil.example"), stored_app=AZURE_APP, format=2)


def sealed_v2_vector(name, what, *, seal_place, open_place=None, open_format=2, plaintext, nonce_label):
    open_place = seal_place if open_place is None else open_place
    sealed = seal(DATA_KEY, fixed(nonce_label, NONCE_BYTES), plaintext, sealed_field_aad_v2(VAULT, GENERATION, seal_place))
    if open_format == 2:
        aad = sealed_field_aad_v2(VAULT, GENERATION, open_place)
        place_fields = [("scope_key", open_place["scope_key"]), ("binding", open_place["binding"])]
    else:
        aad = sealed_field_aad(VAULT, GENERATION, open_place)
        place_fields = [("client_id", open_place["client_id"]), ("token_endpoint", open_place["token_endpoint"])]
    result = open_sealed(DATA_KEY, sealed, aad)
    good = name.startswith("good_")
    assert (result == plaintext) if good else (result is None), name
    fields = [("kind", "sealed-field"), ("format", open_format), ("data_key", DATA_KEY), ("generation", GENERATION),
              ("vault", VAULT), ("table", open_place["table"]), ("column", open_place["column"]),
              ("row", open_place["row"]), ("app", open_place["app"])] + place_fields
    fields += [("aad", aad), ("sealed", sealed)]
    fields += [("plaintext", plaintext)] if good else [("reject_at", "open")]
    emit(name, what, fields)


def sealed_v2_vectors():
    binding = app_binding(DATA_KEY, VAULT, GENERATION, AZURE_APP)
    secret_place = dict(SECRET_PLACE, scope_key="", binding=binding)
    token_place = dict(secret_place, table="access_token", column="token", row="a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
                       scope_key="https://storage.azure.com/.default")
    sealed_v2_vector("good_sealed_v2_client_secret", "format 2: app.client_secret under the app's binding",
                     seal_place=secret_place, plaintext=b"v2-client-secret", nonce_label="nonce v2 secret")
    sealed_v2_vector("good_sealed_v2_access_token_scope", "format 2: an access token under its scope key",
                     seal_place=token_place, plaintext=b"eyJ0eXAi.v2-access-token", nonce_label="nonce v2 token")
    sealed_v2_vector("fail_sealed_v2_scope_key_relabelled", "format 2: an access token's scope_key relabelled as another resource",
                     seal_place=token_place, open_place=dict(token_place, scope_key="https://graph.microsoft.com/.default"),
                     plaintext=b"eyJ0eXAi.v2-access-token", nonce_label="nonce v2 token")
    sealed_v2_vector("fail_sealed_v2_other_binding", "format 2: the app's binding column replaced (another app's, or an older one)",
                     seal_place=secret_place, open_place=dict(secret_place, binding=flip(binding, 0)),
                     plaintext=b"v2-client-secret", nonce_label="nonce v2 secret")
    sealed_v2_vector("fail_sealed_v2_opened_as_v1", "format 2 ciphertext in a file that claims format 1 (no downgrade)",
                     seal_place=secret_place, open_format=1, plaintext=b"v2-client-secret", nonce_label="nonce v2 secret")


def passphrase_vector(name, what, *, passphrase=PASSPHRASE, salt=SALT, ops=TEST_OPS, mem=TEST_MEM,
                      wrap_kek=None, wrap_detail=None, wrap_vault=VAULT, wrap_generation=GENERATION,
                      wrap_slot=SLOT_ID, wrapped_plaintext=DATA_KEY, open_passphrase=None,
                      open_vault=None, open_generation=None, open_slot=None, stored_salt=None,
                      stored_ops=None, stored_mem=None, nonce_label="nonce passphrase slot",
                      mutate=None, reject_at=None):
    """A passphrase slot wrapped with (passphrase, salt, ops, mem), then possibly stored or
    opened with different values."""
    if wrap_kek is None:
        wrap_kek = argon2id(passphrase, salt, ops, mem)
    if wrap_detail is None:
        wrap_detail = passphrase_detail(ops, mem, salt)
    wrapped = seal(wrap_kek, fixed(nonce_label, NONCE_BYTES), wrapped_plaintext,
                   key_slot_aad(wrap_vault, wrap_slot, "passphrase", wrap_generation, wrap_detail))
    if mutate is not None:
        wrapped = mutate(wrapped)

    open_passphrase = passphrase if open_passphrase is None else open_passphrase
    open_vault = wrap_vault if open_vault is None else open_vault
    open_generation = wrap_generation if open_generation is None else open_generation
    open_slot = wrap_slot if open_slot is None else open_slot
    stored_salt = salt if stored_salt is None else stored_salt
    stored_ops = ops if stored_ops is None else stored_ops
    stored_mem = mem if stored_mem is None else stored_mem

    good = name.startswith("good_")
    fields = [
        ("kind", "passphrase-slot"),
        ("slot", open_slot),
        ("vault", open_vault),
        ("generation", open_generation),
        ("kdf_salt", stored_salt),
        ("kdf_opslimit", stored_ops),
        ("kdf_memlimit", stored_mem),
        ("passphrase", open_passphrase),
        ("wrapped_key", wrapped),
    ]
    detail = passphrase_detail(stored_ops, stored_mem, stored_salt)
    fields += [("detail", detail),
               ("aad", key_slot_aad(open_vault, open_slot, "passphrase", open_generation, detail))]

    # Reference decision.
    if stored_ops <= 0 or stored_mem <= 0 or len(stored_salt) != SALT_BYTES:
        outcome = "kdf-params"
    elif not kdf_within_bounds(stored_ops, stored_mem):
        outcome = "kdf-bounds"
    else:
        kek = argon2id(open_passphrase, stored_salt, stored_ops, stored_mem)
        fields.append(("kek", kek))
        aad = key_slot_aad(open_vault, open_slot, "passphrase", open_generation, detail)
        key = open_sealed(kek, wrapped, aad)
        outcome = "open" if key is not None and len(key) == 32 else "unwrap"
        if outcome == "open":
            assert key == wrapped_plaintext

    if good:
        assert outcome == "open", (name, outcome)
        fields.append(("data_key", wrapped_plaintext))
    else:
        assert outcome == reject_at, (name, outcome, reject_at)
        fields.append(("reject_at", reject_at))
    emit(name, what, fields)


def passphrase_vectors():
    passphrase_vector("good_passphrase_slot",
                      "passphrase slot (argon2id13 ops=1 mem=8MiB) unwraps the data key")
    passphrase_vector("good_passphrase_slot_non_ascii_passphrase",
                      "passphrase is hashed as its UTF-8 bytes",
                      passphrase="pässwörd ключ 🔑".encode("utf-8"), salt=fixed("salt unicode", SALT_BYTES),
                      nonce_label="nonce unicode slot")
    passphrase_vector("good_passphrase_slot_ops2_mem9mib",
                      "non-default in-bounds parameters (ops=2, mem=9MiB) are honoured",
                      ops=2, mem=9 << 20, salt=fixed("salt ops2", SALT_BYTES), nonce_label="nonce ops2")

    passphrase_vector("fail_passphrase_slot_wrong_passphrase", "wrong passphrase",
                      open_passphrase=b"correct horse battery stapler", reject_at="unwrap")
    passphrase_vector("fail_passphrase_slot_passphrase_trailing_newline",
                      "passphrase with a trailing newline is a different passphrase",
                      open_passphrase=PASSPHRASE + b"\n", reject_at="unwrap")
    passphrase_vector("fail_passphrase_slot_flipped_wrapped_bit", "one bit flipped in the wrapped key",
                      mutate=lambda s: flip(s, 1 + NONCE_BYTES + 3), reject_at="unwrap")
    passphrase_vector("fail_passphrase_slot_version_2", "wrapped key with version byte 0x02",
                      mutate=lambda s: b"\x02" + s[1:], reject_at="unwrap")
    passphrase_vector("fail_passphrase_slot_truncated", "wrapped key shorter than version + nonce + tag",
                      mutate=lambda s: s[:1 + NONCE_BYTES + TAG_BYTES - 1], reject_at="unwrap")
    passphrase_vector("fail_passphrase_slot_other_slot_id", "slot row copied under another slot id",
                      open_slot=OTHER_SLOT_ID, reject_at="unwrap")
    passphrase_vector("fail_passphrase_slot_other_vault", "slot copied from another vault",
                      open_vault=OTHER_VAULT, reject_at="unwrap")
    passphrase_vector("fail_passphrase_slot_other_generation", "slot's key_generation edited",
                      open_generation=GENERATION + 1, reject_at="unwrap")
    passphrase_vector("fail_passphrase_slot_ops_edited", "kdf_opslimit edited 1 -> 2 (still in bounds)",
                      stored_ops=2, reject_at="unwrap")
    passphrase_vector("fail_passphrase_slot_salt_edited", "one bit of kdf_salt flipped",
                      stored_salt=flip(SALT, 0), reject_at="unwrap")
    passphrase_vector("fail_passphrase_slot_wraps_31_bytes",
                      "authentic wrapping of a 31-byte value: a data key must be exactly 32 bytes",
                      wrapped_plaintext=DATA_KEY[:31], reject_at="unwrap")

    # Out-of-bounds parameters: refused before any hashing. The slot is wrapped under an
    # unrelated key (computing Argon2id at 2 GiB is exactly what a reader must not do).
    passphrase_vector("fail_passphrase_slot_mem_2gib",
                      "kdf_memlimit 2 GiB: over the 1 GiB cap, must be refused before hashing",
                      mem=2 << 30, wrap_kek=fixed("unrelated kek", 32), reject_at="kdf-bounds")
    passphrase_vector("fail_passphrase_slot_ops_17",
                      "kdf_opslimit 17: over the cap of 16, must be refused before hashing",
                      ops=17, reject_at="kdf-bounds")
    passphrase_vector("fail_passphrase_slot_mem_4mib",
                      "kdf_memlimit 4 MiB: an authentic slot below the 8 MiB floor is refused",
                      mem=4 << 20, reject_at="kdf-bounds")
    passphrase_vector("fail_passphrase_slot_ops_0", "kdf_opslimit 0: not a usable parameter set",
                      ops=0, wrap_kek=fixed("unrelated kek", 32), reject_at="kdf-params")
    passphrase_vector("fail_passphrase_slot_short_salt", "15-byte kdf_salt",
                      stored_salt=SALT[:15], reject_at="kdf-params")


KEYFILE_KEY = fixed("key file", 32)
RAW_KEYFILE_KEY = fixed("raw key file", 32)
KEYFILE_SLOT_ID = "c0ffee00-1234-4abc-8def-0123456789cd"


def keyfile_vector(name, what, *, contents, slot_key=KEYFILE_KEY, stored_fingerprint=None,
                   wrap_vault=VAULT, wrap_generation=GENERATION, open_vault=None, open_generation=None,
                   nonce_label="nonce keyfile slot", mutate=None, reject_at=None):
    """A key-file slot wrapped for `slot_key`, opened with a file holding `contents`."""
    fingerprint = keyfile_fingerprint(slot_key)
    wrapped = seal(keyfile_kek(slot_key), fixed(nonce_label, NONCE_BYTES), DATA_KEY,
                   key_slot_aad(wrap_vault, KEYFILE_SLOT_ID, "keyfile", wrap_generation, keyfile_detail(fingerprint)))
    if mutate is not None:
        wrapped = mutate(wrapped)
    stored_fingerprint = fingerprint if stored_fingerprint is None else stored_fingerprint
    open_vault = wrap_vault if open_vault is None else open_vault
    open_generation = wrap_generation if open_generation is None else open_generation
    detail = keyfile_detail(stored_fingerprint)
    aad = key_slot_aad(open_vault, KEYFILE_SLOT_ID, "keyfile", open_generation, detail)

    good = name.startswith("good_")
    fields = [
        ("kind", "keyfile-slot"),
        ("slot", KEYFILE_SLOT_ID),
        ("vault", open_vault),
        ("generation", open_generation),
        ("keyfile_fingerprint", stored_fingerprint),
        ("wrapped_key", wrapped),
        ("detail", detail),
        ("aad", aad),
        ("keyfile", contents),
    ]
    key = parse_keyfile(contents)
    if key is None:
        outcome = "parse"
    else:
        fields += [("keyfile_key", key), ("file_fingerprint", keyfile_fingerprint(key)),
                   ("file_kek", keyfile_kek(key))]
        opened = open_sealed(keyfile_kek(key), wrapped, aad)
        outcome = "open" if opened is not None and len(opened) == 32 else "unwrap"
    if good:
        assert outcome == "open", (name, outcome)
        fields.append(("data_key", DATA_KEY))
    else:
        assert outcome == reject_at, (name, outcome, reject_at)
        fields.append(("reject_at", reject_at))
    emit(name, what, fields)


def keyfile_vectors():
    text = render_keyfile(KEYFILE_KEY)
    assert len(text) == len(KEYFILE_PREFIX) + 43 + 1
    body = text[len(KEYFILE_PREFIX):-1]

    keyfile_vector("good_keyfile_slot_text", "text key file (prefix + base64url, trailing newline) unwraps its slot",
                   contents=text)
    keyfile_vector("good_keyfile_slot_raw32", "key file of exactly 32 raw bytes unwraps its slot",
                   contents=RAW_KEYFILE_KEY, slot_key=RAW_KEYFILE_KEY, nonce_label="nonce raw keyfile")
    keyfile_vector("good_keyfile_slot_text_crlf", "text key file saved with CRLF line ending",
                   contents=text[:-1] + b"\r\n")
    keyfile_vector("good_keyfile_slot_text_no_newline", "text key file without the final newline",
                   contents=text[:-1])

    other_key = fixed("other key file", 32)
    keyfile_vector("fail_keyfile_slot_wrong_key_file", "a valid key file, but not the one the slot was made for",
                   contents=render_keyfile(other_key), reject_at="unwrap")
    keyfile_vector("fail_keyfile_slot_wrong_raw_key_file", "a valid raw key file, but not the slot's",
                   contents=other_key, reject_at="unwrap")
    keyfile_vector("fail_keyfile_slot_fingerprint_edited",
                   "slot's stored fingerprint edited (right key file): fingerprint is in the AAD",
                   contents=text, stored_fingerprint=keyfile_fingerprint(other_key), reject_at="unwrap")
    keyfile_vector("fail_keyfile_slot_other_vault", "key-file slot copied from another vault",
                   contents=text, open_vault=OTHER_VAULT, reject_at="unwrap")
    keyfile_vector("fail_keyfile_slot_other_generation", "key-file slot's generation edited",
                   contents=text, open_generation=GENERATION - 1, reject_at="unwrap")
    keyfile_vector("fail_keyfile_slot_flipped_tag_bit", "one bit flipped in the wrapped key's tag",
                   contents=text, mutate=lambda s: flip(s, len(s) - 2, 0x10), reject_at="unwrap")

    keyfile_vector("fail_keyfile_bad_prefix", "prefix tokvault-keyfile-v2: instead of v1",
                   contents=b"tokvault-keyfile-v2:" + body + b"\n", reject_at="parse")
    keyfile_vector("fail_keyfile_prefix_wrong_case", "prefix in upper case",
                   contents=KEYFILE_PREFIX.upper() + body + b"\n", reject_at="parse")
    keyfile_vector("fail_keyfile_leading_space", "space before the prefix",
                   contents=b" " + text, reject_at="parse")
    keyfile_vector("fail_keyfile_bad_base64_char", "a '*' inside the base64url body",
                   contents=KEYFILE_PREFIX + body[:10] + b"*" + body[11:] + b"\n", reject_at="parse")
    std = base64.b64encode(bytes([0xfb, 0xff]) + KEYFILE_KEY[2:]).rstrip(b"=")
    assert b"+" in std or b"/" in std
    keyfile_vector("fail_keyfile_standard_base64_alphabet", "body in standard base64 ('+', '/'), not base64url",
                   contents=KEYFILE_PREFIX + std + b"\n", reject_at="parse")
    keyfile_vector("fail_keyfile_padded_base64", "base64url body with '=' padding",
                   contents=KEYFILE_PREFIX + body + b"=\n", reject_at="parse")
    keyfile_vector("fail_keyfile_non_canonical_base64",
                   "last base64url character has non-zero unused low bits",
                   contents=KEYFILE_PREFIX + non_canonical(body) + b"\n", reject_at="parse")
    keyfile_vector("fail_keyfile_31_byte_key", "text key file decoding to 31 bytes",
                   contents=render_keyfile(KEYFILE_KEY[:31]), reject_at="parse")
    keyfile_vector("fail_keyfile_33_byte_key", "text key file decoding to 33 bytes",
                   contents=render_keyfile(KEYFILE_KEY + b"\x00"), reject_at="parse")
    keyfile_vector("fail_keyfile_prefix_only", "just the prefix and a newline",
                   contents=KEYFILE_PREFIX + b"\n", reject_at="parse")
    keyfile_vector("fail_keyfile_empty", "empty file", contents=b"", reject_at="parse")
    keyfile_vector("fail_keyfile_raw_31_bytes", "31 raw bytes", contents=RAW_KEYFILE_KEY[:31], reject_at="parse")
    keyfile_vector("fail_keyfile_raw_33_bytes", "33 raw bytes", contents=RAW_KEYFILE_KEY + b"\x00", reject_at="parse")
    keyfile_vector("fail_keyfile_32_bytes_starting_with_prefix",
                   "32 bytes that start with the text prefix are text, and too short to be a key file",
                   contents=(KEYFILE_PREFIX + body)[:32], reject_at="parse")
    keyfile_vector("fail_keyfile_space_inside_body", "space inside the base64url body",
                   contents=KEYFILE_PREFIX + body[:20] + b" " + body[20:] + b"\n", reject_at="parse")


def non_canonical(body):
    """Same decoded bytes under a lenient decoder, but the unused trailing bits are set."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 43 characters carry 258 bits for 256 bits of key: the last character's low 2 bits are unused.
    last = alphabet.index(body[-1:])
    assert last & 0x03 == 0
    changed = body[:-1] + alphabet[last | 0x01:(last | 0x01) + 1]
    assert base64.urlsafe_b64decode(changed + b"=") == base64.urlsafe_b64decode(body + b"=")
    return changed


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else OUT_DIR
    sealed_vectors()
    sealed_v2_vectors()
    binding_vectors()
    passphrase_vectors()
    keyfile_vectors()

    # AAD encoding self-check against a hand-written expectation.
    assert encode_aad([("a", ""), ("b", "é:1")]) == b"a:0:\nb:4:\xc3\xa9:1\n"

    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(out_dir):
        if name.endswith(".txt") and name.startswith(("good_", "fail_")) and name[:-4] not in vectors:
            os.remove(os.path.join(out_dir, name))
    for name, text in sorted(vectors.items()):
        with open(os.path.join(out_dir, name + ".txt"), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    good = sum(1 for n in vectors if n.startswith("good_"))
    print("wrote %d vectors (%d good, %d fail) to %s" % (len(vectors), good, len(vectors) - good, out_dir))


if __name__ == "__main__":
    main()
