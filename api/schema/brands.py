"""GraphQL of brands: the public brand of the request's host, brand settings, hostnames."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum

import idna
import strawberry
from strawberry import relay
from strawberry.file_uploads import Upload

from api import models
from api.domain import brands as brands_domain
from api.resolvers.context import Info
from api.schema.common import After, Connection, First, Money, UserError
from api.schema.types import Reseller, _resolve_scoped
from branding.theme import CSS_PATH, Theme, theme_of

ERRORS = "Expected failures; when not empty, nothing was changed."
COLOR = "A hex color such as #1a2b3c (#abc is expanded); empty for the default theme's."

HostnameStatus = strawberry.enum(
    Enum("HostnameStatus", {s.upper(): s for s in brands_domain.HOSTNAME_STATUSES}),
    description="Pending until its DNS points at the platform or the operator approves it.",
)
HostnameActivation = strawberry.enum(
    Enum("HostnameActivation", {"DNS": "dns", "OPERATOR": "operator"}),
    description="What made a hostname active: its DNS A records, or the operator's approval.",
)


@strawberry.type(description="A brand's public look, as the portals on a host show it.")
class Brand:
    display_name: str = strawberry.field(description="The name the portals show.")
    logo_url: str | None = strawberry.field(
        description="Path of the logo on this host (changes with the logo), or null."
    )
    css_url: str = strawberry.field(
        description="Path of the stylesheet with the colors as CSS variables."
    )
    header_background: str = strawberry.field(description="Header background (#rrggbb).")
    title_background: str = strawberry.field(description="Title bar background (#rrggbb).")
    text_color: str = strawberry.field(description="Header and title text (#rrggbb).")
    content_background: str = strawberry.field(description="Content background (#rrggbb).")
    content_text: str = strawberry.field(description="Content text (#rrggbb).")
    support_email: str = strawberry.field(description="Where clients ask for help, or empty.")
    footer_text: str = strawberry.field(description="The footer's text, or empty.")
    default_language: str = strawberry.field(description="The portals' default language.")

    @classmethod
    def from_theme(cls, theme: Theme) -> Brand:
        return cls(
            display_name=theme.display_name,
            logo_url=theme.logo_url,
            css_url=CSS_PATH,
            support_email=theme.support_email,
            footer_text=theme.footer_text,
            default_language=theme.default_language,
            **theme.colors(),
        )


@strawberry.type(description="A brand's uploaded logo.")
class BrandLogo:
    media_type: str = strawberry.field(description="Its real type, read from its bytes.")
    width: int = strawberry.field(description="Width in pixels.")
    height: int = strawberry.field(description="Height in pixels.")
    sha256: str = strawberry.field(description="SHA-256 of its bytes, hex.")


@strawberry.type(description="A custom hostname a reseller ordered for its portals.")
class Hostname(relay.Node):
    id: relay.NodeID[int]
    host: str = strawberry.field(description="The hostname, normalised (IDNA ASCII form).")
    status: HostnameStatus = strawberry.field(description="Pending or active.")
    activated_by: HostnameActivation | None = strawberry.field(
        description="What made it active; null while pending."
    )
    dns_addresses: list[str] = strawberry.field(
        description="The A records seen at the last DNS check."
    )
    dns_checked_at: datetime | None = strawberry.field(
        description="When its DNS was last checked (UTC), or null."
    )
    activated_at: datetime | None = strawberry.field(description="When it became active (UTC).")
    created_at: datetime = strawberry.field(description="When it was ordered (UTC).")
    reseller_id: strawberry.Private[int]
    fee_micros: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: models.Hostname) -> Hostname:
        return cls(
            id=row.id,
            host=row.host,
            status=HostnameStatus(row.status),
            activated_by=HostnameActivation(row.activated_by) if row.activated_by else None,
            dns_addresses=list(row.dns_addresses or ()),
            dns_checked_at=row.dns_checked_at,
            activated_at=row.activated_at,
            created_at=row.created_at,
            reseller_id=row.reseller_id,
            fee_micros=row.fee,
        )

    @strawberry.field(description="The hostname as people write it (Unicode).")
    def unicode_host(self) -> str:
        try:
            return idna.decode(self.host)
        except (idna.IDNAError, UnicodeError):
            return self.host

    @strawberry.field(description="The one-time fee charged for it.")
    async def fee(self, info: Info) -> Money:
        reseller = await info.context.loaders.reseller.load(self.reseller_id)
        return Money.of(self.fee_micros, reseller.currency)

    @strawberry.field(description="The reseller it belongs to.")
    async def reseller(self, info: Info) -> Reseller:
        return Reseller.from_model(await info.context.loaders.reseller.load(self.reseller_id))

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, brands_domain.get_hostname)


@strawberry.type(
    description="A reseller's brand, or the operator's default brand, with its settings."
)
class BrandSettings:
    brand: Brand = strawberry.field(description="The public look, defaults filled in.")
    logo: BrandLogo | None = strawberry.field(description="The uploaded logo, or null.")
    paypal_receiver_email: str = strawberry.field(
        description="The PayPal account client payments go to, or empty."
    )
    paypal_currency: str = strawberry.field(
        description="The currency of PayPal payments (a reseller's own currency)."
    )
    paypal_amounts: list[int] = strawberry.field(
        description="The whole amounts the top-up form offers."
    )
    updated_at: datetime | None = strawberry.field(
        description="When it last changed (UTC); null while never set."
    )
    reseller_id: strawberry.Private[int | None]

    @classmethod
    def from_owner(cls, owner: brands_domain.BrandOwner) -> BrandSettings:
        row = owner.brand
        currency = (
            owner.reseller.currency if owner.reseller else (row.paypal_currency if row else "")
        )
        return cls(
            brand=Brand.from_theme(theme_of(owner)),
            logo=(
                BrandLogo(
                    media_type=row.logo_type,
                    width=row.logo_width,
                    height=row.logo_height,
                    sha256=row.logo_sha256,
                )
                if row is not None and row.logo_sha256
                else None
            ),
            paypal_receiver_email=row.paypal_receiver_email if row else "",
            paypal_currency=currency,
            paypal_amounts=list(row.paypal_amounts or ()) if row else [],
            updated_at=row.updated_at if row else None,
            reseller_id=owner.reseller_id,
        )

    @strawberry.field(description="Whose brand it is; null for the operator's default brand.")
    async def reseller(self, info: Info) -> Reseller | None:
        if self.reseller_id is None:
            return None
        return Reseller.from_model(await info.context.loaders.reseller.load(self.reseller_id))

    @strawberry.field(description="The reseller's custom hostnames.")
    async def hostnames(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Hostname]:
        from api.resolvers.brands import hostnames_connection

        return await hostnames_connection(
            info, first=first, after=after, reseller_id=self.reseller_id, own_only=True
        )


# --- inputs ----------------------------------------------------------------------------------


@strawberry.input(description="Changes to a brand; omitted fields stay as they are.")
class BrandUpdateInput:
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="The reseller (operator only); omitted: your own, or the operator's brand.",
    )
    display_name: str | None = strawberry.field(
        default=None, description="The name the portals show (empty: the reseller's name)."
    )
    header_background: str | None = strawberry.field(default=None, description=COLOR)
    title_background: str | None = strawberry.field(default=None, description=COLOR)
    text_color: str | None = strawberry.field(default=None, description=COLOR)
    content_background: str | None = strawberry.field(default=None, description=COLOR)
    content_text: str | None = strawberry.field(default=None, description=COLOR)
    support_email: str | None = strawberry.field(default=None, description="Support email.")
    footer_text: str | None = strawberry.field(
        default=None, description="Footer text (plain text, at most 500 characters)."
    )
    default_language: str | None = strawberry.field(
        default=None, description="Default language, e.g. en or pt-BR."
    )
    paypal_receiver_email: str | None = strawberry.field(
        default=None, description="The PayPal account client payments go to."
    )
    paypal_currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code; for a reseller, its own currency."
    )
    paypal_amounts: list[int] | None = strawberry.field(
        default=None, description="Whole amounts the top-up form offers (1 to 100,000, ≤ 12)."
    )


@strawberry.input(description="A new logo for a brand, or none.")
class BrandLogoUploadInput:
    file: Upload | None = strawberry.field(
        description=(
            "The image (multipart request): PNG, JPEG, GIF or WebP, recognised by its bytes, "
            "within the size limits; null removes the logo."
        )
    )
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller (operator only); omitted: your own brand."
    )


@strawberry.input(description="A custom hostname to order.")
class HostnameOrderInput:
    host: str = strawberry.field(
        description="The hostname, e.g. portal.example.com (case, port, trailing dot ignored)."
    )
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller (the operator must name it)."
    )


@strawberry.input(description="A hostname to act on.")
class HostnameInput:
    id: relay.GlobalID = strawberry.field(description="The hostname.")


# --- payloads --------------------------------------------------------------------------------


@strawberry.type(description="A brand changed.")
class BrandSettingsPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    brand_settings: BrandSettings | None = strawberry.field(
        default=None, description="The brand and its settings."
    )


@strawberry.type(description="A hostname ordered, approved or checked.")
class HostnamePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    hostname: Hostname | None = strawberry.field(default=None, description="The hostname.")


# --- root fields (the resolvers import the types above) --------------------------------------

from api.resolvers import brands as resolvers  # noqa: E402


@strawberry.type(description="Reads of brands and hostnames.")
class BrandsQuery:
    brand: Brand | None = strawberry.field(
        resolver=resolvers.brand,
        description=(
            "The public brand of the host this request is for; null on a host that serves "
            "no brand (unknown, or still pending)."
        ),
    )
    brand_settings: BrandSettings | None = strawberry.field(
        resolver=resolvers.brand_settings,
        description="A brand with its settings: your own, or (operator) any; null if not visible.",
    )
    hostnames: Connection[Hostname] = strawberry.field(
        resolver=resolvers.hostnames,
        description="Custom hostnames: all (operator) or your own.",
    )


@strawberry.type(description="Changes of brands and hostnames.")
class BrandsMutation:
    brand_update: BrandSettingsPayload = strawberry.mutation(
        resolver=resolvers.brand_update, description="Change a brand's look and PayPal settings."
    )
    brand_logo_upload: BrandSettingsPayload = strawberry.mutation(
        resolver=resolvers.brand_logo_upload,
        description="Upload a brand's logo (a multipart request), or remove it.",
    )
    hostname_order: HostnamePayload = strawberry.mutation(
        resolver=resolvers.hostname_order,
        description=(
            "Order a custom hostname; its one-time fee is charged to the reseller's balance. "
            "It stays pending until its DNS points at the platform or the operator approves it."
        ),
    )
    hostname_approve: HostnamePayload = strawberry.mutation(
        resolver=resolvers.hostname_approve,
        description="Activate a pending hostname without waiting for its DNS (operator).",
    )
    hostname_check_dns: HostnamePayload = strawberry.mutation(
        resolver=resolvers.hostname_check_dns,
        description=(
            "Look up a hostname's A records now; a pending one whose records all name the "
            "platform's addresses becomes active."
        ),
    )
