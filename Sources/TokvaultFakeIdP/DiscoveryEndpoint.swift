// GET /{tenant}/v2.0/.well-known/openid-configuration and GET /{tenant}/discovery/v2.0/keys.

import Foundation

extension FakeIdPCore {
    private func discoveryTenantError(_ request: FakeRequest, _ tenant: String) -> FakeResponse {
        azureError(
            400, "invalid_tenant", 90002,
            "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
            request)
    }

    func discovery(_ request: FakeRequest, tenant: String) -> FakeResponse {
        guard tenantIsValid(tenant) else { return discoveryTenantError(request, tenant) }
        let base = baseURLLocked
        let isTenant = tenant.lowercased() == config.tenant.lowercased()
        // Like Azure: a tenant-specific document names the tenant; the multi-tenant aliases publish
        // the literal "{tenantid}" placeholder that clients substitute with the token's tid.
        let issuer = isTenant ? "\(base)/\(config.tenant)/v2.0" : "\(base)/{tenantid}/v2.0"
        let prefix = "\(base)/\(tenant)"
        func strings(_ values: [String]) -> JSON { .array(values.map { .string($0) }) }
        let body = JSON.object([
            ("token_endpoint", .string("\(prefix)/oauth2/v2.0/token")),
            (
                "token_endpoint_auth_methods_supported",
                strings(["client_secret_post", "private_key_jwt", "client_secret_basic"])
            ),
            ("jwks_uri", .string("\(prefix)/discovery/v2.0/keys")),
            ("response_modes_supported", strings(["query", "fragment", "form_post"])),
            ("subject_types_supported", strings(["pairwise"])),
            ("id_token_signing_alg_values_supported", strings(["RS256"])),
            ("response_types_supported", strings(["code", "id_token", "code id_token", "id_token token"])),
            ("scopes_supported", strings(["openid", "profile", "email", "offline_access"])),
            ("issuer", .string(issuer)),
            ("request_uri_parameter_supported", .bool(false)),
            ("userinfo_endpoint", .string("\(base)/_fake/resource")),
            ("authorization_endpoint", .string("\(prefix)/oauth2/v2.0/authorize")),
            ("device_authorization_endpoint", .string("\(prefix)/oauth2/v2.0/devicecode")),
            ("http_logout_supported", .bool(true)),
            ("frontchannel_logout_supported", .bool(true)),
            ("end_session_endpoint", .string("\(prefix)/oauth2/v2.0/logout")),
            (
                "claims_supported",
                strings([
                    "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                    "msgraph_host",
                    "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
                    "at_hash",
                    "c_hash", "email"
                ])
            ),
            ("code_challenge_methods_supported", strings(["S256"])),
            ("tenant_region_scope", .string("EU")),
            ("cloud_instance_name", .string("microsoftonline.com")),
            ("cloud_graph_host_name", .string("graph.windows.net")),
            ("msgraph_host", .string("graph.microsoft.com")),
            ("rbac_url", .string("https://pas.windows.net"))
        ])
        return .json(200, body)
    }

    /// The JWKS: empty (the signature of the fake's id_tokens is random bytes, verifiable by no key).
    func keys(_ request: FakeRequest, tenant: String) -> FakeResponse {
        guard tenantIsValid(tenant) else { return discoveryTenantError(request, tenant) }
        return .json(200, .object([("keys", .array([]))]))
    }
}
