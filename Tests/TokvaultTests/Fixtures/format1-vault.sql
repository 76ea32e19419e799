-- A format-1 vault written by tokvault 0.1.0 (commit 5bb4b95) (every sealed field kind).
-- Rebuilt by the tests with sqlite3; application_id is not part of .dump.
PRAGMA application_id = 1953199732;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
INSERT INTO grdb_migrations VALUES('0001_create_vault');
INSERT INTO grdb_migrations VALUES('0002_add_app_issuer');
INSERT INTO grdb_migrations VALUES('0003_add_certificate_credentials');
CREATE TABLE vault (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    vault_id       TEXT    NOT NULL,                 -- random UUID, in every AAD
    format_version INTEGER NOT NULL,
    key_generation INTEGER NOT NULL CHECK (key_generation >= 1),
    created_at     INTEGER NOT NULL,                 -- UTC epoch seconds
    rotated_at     INTEGER
);
INSERT INTO vault VALUES(1,'313e9660-e064-4082-a162-ad8a45d50d60',1,1,1796192268,NULL);
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
INSERT INTO key_slot VALUES('fa48511f-58e0-4982-b42c-e0b4794ad066','passphrase',1,X'11ba25f81310cfb4220b3507ca44f1ff',1,8388608,NULL,X'01098f9883824725ebb525af9eed27485bba9d826ec0ef19c5fbd932e8832ce9d2ea756245b44ae46d1cf5496c867b004ac0d2c922b50caa2e7673a43e61ddba0b8b2227c1acd92d30',1796192268);
INSERT INTO key_slot VALUES('a65c4c76-480f-4f42-8980-5053c50b20a7','keyfile',1,NULL,NULL,NULL,'3a37346b086186a760a05c2c6cd22c73',X'018c3ff1030ef4e1f1eaabff5b31b03aaf8c2ccb3d27769745d0e7b4b93f233ebfd6ae7ec7e645bd82ee643522009b801599a45e24a00fae258e383fffbab9a21fd7fff41468b2463e',1796192268);
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
INSERT INTO session VALUES('9715fc4d-0768-47e4-a594-7f9cc1f24ef0','0361ceb4-5fc5-4445-b1fe-fc6e606700e9',X'01eddb78dd437f567c2a1e1efe9449a5fcb7f60632b6574e8cccb50d05abb408ecbd4213f6802bb8a7512327f1b0beb312644f8e3bc96b51d5ec62969255313eb2b9e12b169d3ccac03d66b2fc5b12694784d9776dbca2275a72d2722d98ecaa8a6644e8a9af99babbc980353293f8cf75',X'019a80ad17e3de36ebee064f99600a6b843b0fee28b8911a210445bd87863f6624ff6d6380965f9d56545de938421c3b07b9af1b5ca70b8ff46e4af99a29f6b2d2849fa7377346bccd9436cdbedf339c3f06fc1e28f82885073f6427ca940ffa4d79d2c069a2ad4f3f7d72d9d9f39a8936a279d796a6c149ddcc198afae511d0385ddf02f92a3d85979dd0ca7592ca506568229385e44e713d2bd3b63db80520dcbb153ef2e2af12178895ea0d5c6cbcb0d8e69682453454155c2277c43cf6d29d5b063a305989fc612ef9b8be5cfe59988bcff755888002369e2be65d5101147e3f15c81024b4dc8c41140ffb758be03ed0a4c6386b9a0b03b2554416fa9a83c7ff802006e9dd344c1daa0e13ca329ba7ae722fa735d4e77c5d2f4df9f17e76382b53c82e338e1d9de9bc4a9486d7a40d6a64eb16b20d9bf4306dcecdbdcf8f14b3d2cda1677e01f13229846658d39b4919928c1ae6275a11cc32d10de69474cd44203a25830a1d3b033a0f254a4a484bc75181f0c661a336158d38e0fbe53398dc05fb4e3f9b6a3f997f2093b8156e9cb799e58958a67ca7a01c97d839331cfb7f457b5391807e5391244b7dcf8e8ab6af9f9376ecfab23b4832531fa412aa773f8ab3e5081a163b3ed38aaa6520b3b8060882bbc9608eabc6e299765bd191f92088203216bc7e0670c6b23257b51ac10f77cea9a4c59ed8a430b097d9d8dd00b41a921e3d5aca539b53f9cdcec061fc9238701d0e265ae4a3c750d5164b6a5838e2c6b59fc34b20fcc89419dcf450cdef4964f922ac2067b33d67e3f65d28ac9d2fc60c70617af44e60cf1c16bdd1bc07799c9e63a9be0d8968daa9dac1a4c10dd4d5ef656596ba742486bdbf0bf64b8ba3390cf8618ce0c90afe3d7c8633fc8902f590cb7fc61059f76dbbecaec7e431b557bad901b3848ae29d8733828b6b1072572407b1fe63558f841ee5040c139443448443','alice@contoso.example','11111111-2222-3333-4444-555555555555/.default openid profile offline_access',1796192270,1796192270);
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
INSERT INTO access_token VALUES('15172719-c8b2-40eb-b035-d01720de993d','0361ceb4-5fc5-4445-b1fe-fc6e606700e9','',X'0124241783d998aa9105634f7ff53b900b8753ce3e0fa83b394f55ddd35a055a6c7400e6d3c93bc504581a5cfe2aa96c324bc0184f2a58034726bb15bff952bf5cfb878c137f5fb10f9b8b565119bacd4be5e1dfef4c0143b8392c70','Bearer','11111111-2222-3333-4444-555555555555/.default openid profile offline_access',1796195870,1796192270);
INSERT INTO access_token VALUES('d0970b56-0af8-4f07-a76f-a7a063da121b','0361ceb4-5fc5-4445-b1fe-fc6e606700e9','https://storage.azure.com/.default',X'01c42777694ea4de455cf15c2cbe40d97ab3e32e88b3090ee2d65c28fd93296bcfd18bedce5a3aca53051d1cea291396459261a7e276d6ba0fe023141aafbbaa0c5183d9f93cbe1dfa3654556f353af738ac3a3f8a931dad559f5e1b','Bearer','https://storage.azure.com/.default',1796195870,1796192270);
INSERT INTO access_token VALUES('65aa9031-7523-4e79-be17-55debe08295f','82c957c1-4eab-4975-87a9-b73e12904827','',X'0173136d04833608aa6a4fc9a06ec646e7dacd991422a28347499a6278f439d898825a28b20cb7cae345caef4dfac12f2f0084a324f4a710a7c6e1e8c9cc909ce959913d19636b07262fd008650c36af04f07933deae467fd2190e9c','Bearer',NULL,1796195870,1796192270);
CREATE TABLE event (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    action TEXT    NOT NULL,
    app    TEXT,
    detail TEXT    NOT NULL DEFAULT ''
);
INSERT INTO event VALUES(1,1796192268,'init',NULL,'passphrase, keyfile 3a37346b086186a7');
INSERT INTO event VALUES(2,1796192268,'add-app','adme','client_id=11111111-2222-3333-4444-555555555555 token_endpoint=http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token');
INSERT INTO event VALUES(3,1796192268,'add-app','oidc','client_id=33333333-4444-5555-6666-777777777777 token_endpoint=http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token');
INSERT INTO event VALUES(4,1796192269,'add-app','pub','client_id=44444444-5555-6666-7777-888888888888 token_endpoint=http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token');
INSERT INTO event VALUES(5,1796192269,'add-app','deploy','client_id=22222222-3333-4444-5555-666666666666 token_endpoint=http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token');
INSERT INTO event VALUES(6,1796192270,'set','adme','refresh_token');
INSERT INTO event VALUES(7,1796192270,'refresh','adme','scope=11111111-2222-3333-4444-555555555555/.default openid profile offline_access expires=1796195870 refresh_token=rotated');
INSERT INTO event VALUES(8,1796192270,'refresh','adme','scope=https://storage.azure.com/.default expires=1796195870 refresh_token=rotated');
INSERT INTO event VALUES(9,1796192270,'client-credentials','deploy','scope=22222222-3333-4444-5555-666666666666/.default expires=1796195870');
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
    assertion_alg      TEXT    CHECK (assertion_alg IN ('PS256', 'RS256')),
    CHECK ((client_auth = 'private_key_jwt') = (certificate IS NOT NULL AND assertion_alg IS NOT NULL))
);
INSERT INTO app VALUES('0361ceb4-5fc5-4445-b1fe-fc6e606700e9','adme','azure','00000000-0000-0000-0000-0000000000aa',NULL,'http://127.0.0.1:36107','11111111-2222-3333-4444-555555555555','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/authorize','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/devicecode','http://localhost:8080','11111111-2222-3333-4444-555555555555/.default openid profile offline_access','authorization_code','client_secret_post',X'0156ba6924b22b4335c86bf70fe60cb5723d7c5eeaf97dc16b3136d4043e0a71ba906ff88824f04deed901a42cc228e244fc3d73797883385e6d9baddfb125f44495c1dc41f36c0b0f5f',1796192268,1796192270,NULL,NULL,NULL,NULL);
INSERT INTO app VALUES('40ee3978-be18-436a-b9b7-be20ca9716ed','oidc','oauth',NULL,NULL,NULL,'33333333-4444-5555-6666-777777777777','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/authorize','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/devicecode','http://localhost:8080','openid offline_access','authorization_code','client_secret_basic',X'01972cc7035cb427cc6bb42b667f211f2fdc7fd6befa7b774a12db1975804bcf84e5e8f4237a1c186041a538683580d0c97bdb3599197f38150dfad9665d744a444b8d1d9f991ca96869',1796192268,1796192268,'http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/v2.0',NULL,NULL,NULL);
INSERT INTO app VALUES('93045b2d-e7a7-4a7f-a373-c93d0887e202','pub','azure','00000000-0000-0000-0000-0000000000aa',NULL,'http://127.0.0.1:36107','44444444-5555-6666-7777-888888888888','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/authorize','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/devicecode','http://localhost:8080','44444444-5555-6666-7777-888888888888/.default openid profile offline_access','authorization_code','none',NULL,1796192269,1796192269,NULL,NULL,NULL,NULL);
INSERT INTO app VALUES('82c957c1-4eab-4975-87a9-b73e12904827','deploy','azure','00000000-0000-0000-0000-0000000000aa',NULL,'http://127.0.0.1:36107','22222222-3333-4444-5555-666666666666','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/authorize','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token','http://127.0.0.1:36107/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/devicecode','http://localhost:8080','22222222-3333-4444-5555-666666666666/.default','client_credentials','private_key_jwt',NULL,1796192269,1796192269,NULL,X'30820317308201ffa0030201020214260aa49540fe8b2c831c1eebdc87a3f59ee02b28300d06092a864886f70d01010b0500301b3119301706035504030c10746f6b7661756c742d66697874757265301e170d3236313230323036313734375a170d3336313132393036313734375a301b3119301706035504030c10746f6b7661756c742d6669787475726530820122300d06092a864886f70d01010105000382010f003082010a0282010100bb259bc51f9e203ff9194aaf4cf17b679c5d98ea9e49a01dce9cd2bf568e0001dc999040fa1503d55b0bb1aacd2d98cad4b158a21f99f5468ccbe3ee8230459b965c8078f8c435104b3b5e17e9f059b4057c6f4c22dcd788bf16f586b1f86f9de1f942b6ce395f2f7fb326c50f7f1a4747082e0b7c52e18464d53f137abd993322d3be026ddec3b10f28b98f335496237d71b5832274c1f6b7ea9c63ea9951111c9f0a91d2e289603712f9922bdf21ec1d3e0f3169485600c916382891f7554f69241fa0bee1d1d9c267f8aad7f00d58b4c42625af474bd2a3305f9a340ee2f4759c42342b65396eb0ef56f3b8f9e7da34d99443523d6e6fd9ffa66462807e090203010001a3533051301d0603551d0e041604141603f74d2a2572db3e637dafacf1b516b140c6d9301f0603551d230418301680141603f74d2a2572db3e637dafacf1b516b140c6d9300f0603551d130101ff040530030101ff300d06092a864886f70d01010b05000382010100aefecf7b9fb2ac0f70c4ef2ad0005c39c9822e24fe42b83b13aa7489cfe147a13390e554e1bf8cf3f9b66d9779cb4d78006eb6db8679acaf6f5dc88715b3b1df9fc37f4434d4bd98d4c32343f8d5904877b4ff8f338e3e8e7c066bd1cd91531898a0d6e6fe2a398bce9696397791cd195c871c896be2fdd278c5a723adbb96d0b69f941857bf4d9267bb8e30322ce0b30088312afa9e5bb4ee49b3fb676d60c849d3e5674a7211b31e0d8f037278cddc0e5d257f7fd8ffc5453ad3eb88847269c02d84a78f6bd59f2c1b9865c8db0601c08f930e347c3db392810b141bcea790f35a3332145f70ea24019b7d366cdf7c45ed332382c0c30fbfc51df2a8a98d98',X'01afc02a4a110190794bafdf0c26a3d13900a339c270264ccae083983257e1e84650f57d9017fe7398870afd0186525e1fb1f3509b41df1b9b472391bb139399ced26d5712f93dc89757eca92b2c1bc123ddf5635f5c5d671fc4b133c8ac0f69c9f571019268cbf74971c166788b589a49da7eb166741a7943b9023605d2bd42aff230a6be6527ff895d59e3fee2b598b8a458fa817255a005784b9323ba0c07f0e679f290d9cb5dfafd8b34774bc9ad7111a7778e750c0f5966f408ce955553b148afd7ce23df7ea06c4f88c6a0591ec258db36efd52096b32da896a76c8e9535623bf9b56ff7f6b1b7ac0ad1f586dcade24c1bf51cd1a0d8d6812d857114ce894c91c9e7254b77f44f1fbe4827c07ae99ae88d4e2db6a5a120c2ab36ed649e45c6cbbf69e1c7fd9b019ed535805a982dd672560652498aeb39a950667f4c624159481feec2b00cf563c9920e1d858328971484aaa18c82161cb6fad01a0028ef89be7c667f2e6c9144ba906f26dc42658aef08cf2f6e0caa86fe69bc5021b2537b75003372601df389b5a9395a0790e585caf93973c18fabcb503124dcd557b9d42049fcdb38c2ede85abc1697de832b42f1dc2717e4eb524d869b10e90f7a536f1e9c73c24029a21c18301bfad94a3b65f19b6ca87d829ee947d160d1b504ce3218b0d2e8a1c4a14e098300039efaec3f91bafacb8281b65f46477b28f488057246944117b14ba39ccbefe3adc6d53e5e46204672d830ca041b55999784c0592477aa3d888844357837f317e8d59ed0a7cbf1fa93b28ce718f33ef5792da3965dc54543f0aaae7f2008b443182c63a3f0d3f2689b112ad8a85a5cd1e461ba702b4aad0285d2637a44dae5e28d90dc81d1dbfedc54a62b46c80c28b425dc8d610ebc7604493adfa8707dc211308ea8ae0b34f0edd531493d8b4d07fb863af5a6d59b9f2743461f676416cd2a6a46ac6b287abf2ef4cebd4c13dd6221fdad41c93221839c6d036ed1ad17d12e32fcf8c1e36368c6fbb4366c2bc2730260ff920c7e6d689275484c0ecbf778787d8a836bbd11b668393b73e2b3ef1c0b77b71b690eb98b6be4f59925505c044a3659d742b06637b6acb46bdf26680fee3b227b956a3f48063576b818dcfb80b4066e44a9b5c2fc2119195f7b5c229d98254add3006073d82b1784fd50f4e09bfed5982d1b4f7fd47aa38056a3555e66a37e6a7dea77479443aedde156a896006517065837f61c628d5e9ae7d031e6bc5fd9d8a567e1cfeb311878d53fe50d292c1c52a3be1ff44e6955ec6de06ed31acc5afa0278236076bb73ddb0f5073b22dd9e4776ba7c11e98662d1d46d9fb416ba23e3c4a3d02e6265b17c91e7320c3eba90c8affff7fe34a160d5b60a410003c0bd82ab80a98664a8297b90bcefdb4c0944e302d7573a88e6c2cf6d1d7d30d4c5c6d9358f97bb69b91e5dfcfa78ed93eb7ba8f9bb6046af3512930eb08d18300ac40efa392d37784d6bdeae5a0b00538d20d1baf6417832036ac6c04f0e57d6d1d9949386605bd3a3003f566b4c8bbd7a5d13bd51f94e0fc960e9fbb8dc80b395edcfa3fe11621c222abf2de201cd1de35ed1e68e598df8377af1fee78c5f2e0d7252f3dda36f6cdc27108f65a029f78d1cf8b23ab1c4a3e486aee139eb06709291d74afd138f08cb45401dafa16f58fcdeaab73e0cda6e8bbd811c32b1d732fa246b35114d653a54d17469dada9abf48076301c9dfdde4c79059f9ca30712d402bdfc951600719a1708dea251','PS256');
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('event',9);
CREATE UNIQUE INDEX key_slot_single_passphrase ON key_slot(kind) WHERE kind = 'passphrase';
CREATE UNIQUE INDEX key_slot_keyfile ON key_slot(keyfile_fingerprint);
COMMIT;
