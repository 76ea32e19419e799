#!/usr/bin/env python3
"""Gets a token the way an application does, with azure-identity from PyPI, unchanged.

usage: azure-identity-client.py mi|default SCOPE

"mi" uses ManagedIdentityCredential, "default" DefaultAzureCredential; both find the
endpoint through IDENTITY_ENDPOINT and IDENTITY_HEADER. Prints one JSON line: the token
and its expiry, or the exception's class and message (exit 1).
"""
import json
import sys

from azure.identity import DefaultAzureCredential, ManagedIdentityCredential


def main() -> int:
    kind, scope = sys.argv[1], sys.argv[2]
    credential = ManagedIdentityCredential() if kind == "mi" else DefaultAzureCredential()
    try:
        token = credential.get_token(scope)
    except Exception as error:  # the test reads what failed
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
        return 1
    print(json.dumps({"token": token.token, "expires_on": token.expires_on}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
