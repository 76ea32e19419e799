import TokvaultFakeIdP

/// A vault and a running fake provider with one registered client.
struct ProviderSetup {
    static let clientID = LoginSetup.clientID
    static let clientSecret = "svc-secret-CANARY-77f"

    let f = Fixture()
    let idp: FakeIdentityProvider
    var cli: CLI { f.cli }
    var key: [String] { ["--key-file", f.keyFile] }

    init(client: FakeClient, configure: (inout FakeIdPConfiguration) -> Void = { _ in }) throws {
        var config = FakeIdPConfiguration(clients: [client])
        configure(&config)
        idp = FakeIdentityProvider(config)
        _ = try idp.start()
    }

    /// `add-app deploy` against the fake provider with extra arguments.
    func addApp(_ extra: [String], stdin: String? = nil, name: String = "deploy", host: String? = nil) -> CLI.Result {
        cli.run(
            [
                "add-app", name, "--tenant", FakeIdPConfiguration(clients: []).tenant, "--client-id",
                ProviderSetup.clientID,
                "--authority-host", host ?? idp.baseURL, "--redirect-uri", "http://localhost:0/callback"
            ] + extra + key,
            stdin: stdin)
    }

    func file(_ name: String, _ text: String) -> String { f.dir.write(name, text) }

    /// A provider whose device authorizations end as `approval` says, polled every second.
    static func device(
        _ approval: FakeDeviceApproval, clientSecret: String? = nil, allowPublicFlows: Bool = false,
        lifetime: Int = 900, slowDownPolls: Int = 0
    ) throws -> ProviderSetup {
        try ProviderSetup(
            client: FakeClient(clientID: clientID, clientSecret: clientSecret, allowPublicClientFlows: allowPublicFlows)
        ) {
            $0.deviceApproval = approval
            $0.deviceCodeInterval = 1
            $0.deviceCodeLifetime = lifetime
            $0.deviceSlowDownPolls = slowDownPolls
        }
    }
}
