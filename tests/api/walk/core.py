"""The walk's operations for the foundation: accounts, money, auth, audit."""

from __future__ import annotations

NODE_FIELDS = """
  id
  ... on Client { name email balance { amount } }
  ... on Reseller { name balance { amount } }
  ... on LedgerEntry { amount { amount } memo postings { account } }
  ... on ApiToken { name prefix }
  ... on AuditEvent { action after }
"""

QUERIES = {
    "node": (
        "query($c: ID!, $c2: ID!, $r: ID!, $e: ID!, $t: ID!) {"
        f" a: node(id: $c) {{ {NODE_FIELDS} }} b: node(id: $c2) {{ {NODE_FIELDS} }}"
        f" c: node(id: $r) {{ {NODE_FIELDS} }} d: node(id: $e) {{ {NODE_FIELDS} }}"
        f" e: node(id: $t) {{ {NODE_FIELDS} }} }}"
    ),
    "viewer": "{ viewer { kind user { email } reseller { name } client { name } } }",
    "resellers": "{ resellers { edges { node { id name balance { amount } } } } }",
    "clients": (
        "query($r: ID!) { all: clients { edges { node { id name } } }"
        " theirs: clients(resellerId: $r) { edges { node { id name } } } }"
    ),
    "ledgerEntries": (
        "query($c: ID!, $r: ID!) { all: ledgerEntries { edges { node { id memo } } }"
        " byClient: ledgerEntries(clientId: $c) { edges { node { id memo } } }"
        " byReseller: ledgerEntries(resellerId: $r) { edges { node { id memo } } } }"
    ),
    "auditEvents": "{ auditEvents { edges { node { id action actorLabel before after } } } }",
    "apiTokens": "{ apiTokens { edges { node { id name prefix } } } }",
    "users": (
        "query($r: ID!) { all: users { edges { node { email } } }"
        " theirs: users(resellerId: $r) { edges { node { email } } } }"
    ),
}

PAYLOAD = "errors { code field message }"
MUTATIONS = {
    "login": (
        'mutation { login(email: "owner@acme.test", password: "wrong-password")'
        f" {{ token {PAYLOAD} }} }}"
    ),
    "userCreate": (
        "mutation($c: ID!, $r: ID!) {"
        ' a: userCreate(input: {email: "x1@evil.test", password: "password1", role: CLIENT,'
        f" clientId: $c}}) {{ user {{ email }} {PAYLOAD} }}"
        ' b: userCreate(input: {email: "x2@evil.test", password: "password1",'
        f" role: RESELLER_STAFF, resellerId: $r}}) {{ user {{ email }} {PAYLOAD} }} }}"
    ),
    "apiTokenCreate": (
        'mutation { apiTokenCreate(input: {name: "mine", scopes: ["clients:read"]})'
        f" {{ token apiToken {{ name }} {PAYLOAD} }} }}"
    ),
    "apiTokenRevoke": (
        "mutation($t: ID!) { apiTokenRevoke(input: {id: $t})"
        f" {{ apiToken {{ name }} {PAYLOAD} }} }}"
    ),
    "resellerCreate": (
        'mutation { resellerCreate(input: {name: "Evil", currency: "USD", billingModel: MARKUP})'
        f" {{ reseller {{ id }} {PAYLOAD} }} }}"
    ),
    "resellerUpdate": (
        'mutation($r: ID!) { resellerUpdate(input: {id: $r, name: "Hacked"})'
        f" {{ reseller {{ name }} {PAYLOAD} }} }}"
    ),
    "resellerDeposit": (
        'mutation($r: ID!) { resellerDeposit(input: {resellerId: $r, amount: "5",'
        f' idempotencyKey: "walk-1"}}) {{ reseller {{ name }} {PAYLOAD} }} }}'
    ),
    "resellerAdjust": (
        'mutation($r: ID!) { resellerAdjust(input: {resellerId: $r, amount: "-5", memo: "x",'
        f' idempotencyKey: "walk-2"}}) {{ reseller {{ name }} {PAYLOAD} }} }}'
    ),
    "clientCreate": (
        'mutation($r: ID!) { clientCreate(input: {resellerId: $r, name: "Intruder"})'
        f" {{ client {{ id name }} {PAYLOAD} }} }}"
    ),
    "clientBulkCreate": (
        "mutation($r: ID!) { clientBulkCreate(input: {resellerId: $r, clients: ["
        + ", ".join(f'{{name: "Intruder {i}"}}' for i in range(10))
        + f"]}}) {{ clients {{ id }} {PAYLOAD} }} }}"
    ),
    "clientUpdate": (
        'mutation($c: ID!) { clientUpdate(input: {id: $c, name: "Hacked", creditLimit: "999"})'
        f" {{ client {{ name }} {PAYLOAD} }} }}"
    ),
    "clientDelete": (
        f"mutation($c2: ID!) {{ clientDelete(input: {{id: $c2}}) {{ deletedClientId {PAYLOAD} }} }}"
    ),
    "clientTransfer": (
        'mutation($c: ID!) { clientTransfer(input: {clientId: $c, amount: "1",'
        f' idempotencyKey: "walk-3"}}) {{ client {{ name }} {PAYLOAD} }} }}'
    ),
    "clientPaymentRecord": (
        'mutation($c: ID!) { clientPaymentRecord(input: {clientId: $c, amount: "1",'
        f' idempotencyKey: "walk-4"}}) {{ client {{ name }} {PAYLOAD} }} }}'
    ),
    "clientCharge": (
        'mutation($c: ID!) { clientCharge(input: {clientId: $c, amount: "1", memo: "x",'
        f' idempotencyKey: "walk-5"}}) {{ client {{ name }} {PAYLOAD} }} }}'
    ),
    "clientRefund": (
        'mutation($c: ID!, $e: ID!) { clientRefund(input: {clientId: $c, amount: "1",'
        f' paymentId: $e, idempotencyKey: "walk-6"}}) {{ client {{ name }} {PAYLOAD} }} }}'
    ),
    "logout": f"mutation {{ logout {{ ok {PAYLOAD} }} }}",
    "clientImpersonate": (
        f"mutation($c: ID!) {{ clientImpersonate(clientId: $c) {{ token {PAYLOAD} }} }}"
    ),
    "passwordResetRequest": (
        f'mutation {{ passwordResetRequest(email: "client@acme.test") {{ ok {PAYLOAD} }} }}'
    ),
    "passwordReset": (
        'mutation { passwordReset(token: "1.9999999999.forged", password: "password1")'
        f" {{ ok {PAYLOAD} }} }}"
    ),
    "passwordChange": (
        'mutation { passwordChange(currentPassword: "wrong-password", newPassword: "password1")'
        f" {{ ok {PAYLOAD} }} }}"
    ),
    "clientProfileUpdate": (
        'mutation { clientProfileUpdate(input: {contactName: "walker"})'
        f" {{ client {{ name }} {PAYLOAD} }} }}"
    ),
}
# Mutations that may succeed for the caller's own tenant (the snapshot proves Acme is untouched).
OWN_TENANT_OK = {"apiTokenCreate", "logout", "passwordResetRequest", "clientProfileUpdate"}
