"""The walk's operations for brands: the public brand, brand settings, hostnames."""

from __future__ import annotations

from api.db import transaction
from api.domain import brands
from api.domain.actors import SYSTEM
from api.models import Brand, Hostname
from api.settings import Settings
from tests.api.conftest import gid

SNAPSHOT_MODELS = (Brand, Hostname)


async def prepare(sessions, world):
    """Acme's brand with PayPal settings, an active hostname and a pending one."""
    settings = Settings()
    async with transaction(sessions) as s:
        await brands.update_brand(
            s,
            SYSTEM,
            world.acme_id,
            {
                "display_name": "Acme Portal Brand",
                "support_email": "help@acme-brand.test",
                "paypal_receiver_email": "pay@acme-brand.test",
                "paypal_amounts": [17, 71],
                "header_background": "#213243",
            },
        )
        active = await brands.order_hostname(
            s, SYSTEM, world.acme_id, "portal.acme-brand.test", settings=settings
        )
        await brands.approve_hostname(s, SYSTEM, active.id)
        pending = await brands.order_hostname(
            s, SYSTEM, world.acme_id, "pending.acme-brand.test", settings=settings
        )
    variables = {"ha": gid("Hostname", active.id), "hp": gid("Hostname", pending.id)}
    markers = ["Acme Portal Brand", "acme-brand.test", "213243", *variables.values()]
    return variables, markers


HOSTNAME_NODE = "id ... on Hostname { host status }"
QUERIES = {
    "brand": "{ brand { displayName supportEmail headerBackground logoUrl } }",
    "brandSettings": (
        "query($r: ID!) { theirs: brandSettings(resellerId: $r) { brand { displayName }"
        " paypalReceiverEmail paypalAmounts hostnames { edges { node { host } } } }"
        " own: brandSettings { brand { displayName } paypalReceiverEmail"
        " hostnames { edges { node { host } } } } }"
    ),
    "hostnames": (
        "query($r: ID!, $ha: ID!, $hp: ID!) { all: hostnames { edges { node { id host } } }"
        " theirs: hostnames(resellerId: $r) { edges { node { id host } } }"
        f" a: node(id: $ha) {{ {HOSTNAME_NODE} }} p: node(id: $hp) {{ {HOSTNAME_NODE} }} }}"
    ),
}

PAYLOAD = "errors { code field message }"
MUTATIONS = {
    "brandUpdate": (
        'mutation($r: ID!) { brandUpdate(input: {resellerId: $r, displayName: "Hacked",'
        ' paypalReceiverEmail: "thief@evil.test"})'
        f" {{ brandSettings {{ brand {{ displayName }} }} {PAYLOAD} }} }}"
    ),
    "brandLogoUpload": (
        "mutation($r: ID!) { brandLogoUpload(input: {resellerId: $r, file: null})"
        f" {{ brandSettings {{ brand {{ displayName }} }} {PAYLOAD} }} }}"
    ),
    "hostnameOrder": (
        'mutation($r: ID!) { hostnameOrder(input: {resellerId: $r, host: "evil.acme.test"})'
        f" {{ hostname {{ host }} {PAYLOAD} }} }}"
    ),
    "hostnameApprove": (
        "mutation($hp: ID!) { hostnameApprove(input: {id: $hp})"
        f" {{ hostname {{ host status }} {PAYLOAD} }} }}"
    ),
    "hostnameCheckDns": (
        "mutation($hp: ID!) { hostnameCheckDns(input: {id: $hp})"
        f" {{ hostname {{ host status }} {PAYLOAD} }} }}"
    ),
}
