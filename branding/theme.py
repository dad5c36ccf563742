"""The theme a portal is drawn with: a brand's look with the defaults filled in, and its CSS.

Only validated ``#rrggbb`` colors ever reach the stylesheet, as CSS custom properties; a stored
value that is not one (never written by ``api.domain.brands``, but checked again here) falls
back to the default. Nothing a reseller types is written into CSS as such.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.domain.brands import COLOR_FIELDS, DEFAULT_COLORS, HEX_COLOR_RE, BrandOwner

DEFAULT_NAME = "Dialtone"
DEFAULT_LANGUAGE = "en"
CSS_VARIABLES = {
    "header_background": "--brand-header-bg",
    "title_background": "--brand-title-bg",
    "text_color": "--brand-text",
    "content_background": "--brand-content-bg",
    "content_text": "--brand-content-text",
}
LOGO_PATH = "/brand/logo"
CSS_PATH = "/brand.css"


@dataclass(frozen=True)
class Theme:
    """What a portal shows: only public fields."""

    reseller_id: int | None
    display_name: str
    header_background: str
    title_background: str
    text_color: str
    content_background: str
    content_text: str
    support_email: str
    footer_text: str
    default_language: str
    logo_sha256: str  # empty: no logo
    own_language: str = ""  # the default language the brand set (empty: none set)

    @property
    def logo_url(self) -> str | None:
        """A path that changes with the logo, so it may be cached for good."""
        return f"{LOGO_PATH}?v={self.logo_sha256[:16]}" if self.logo_sha256 else None

    def colors(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in COLOR_FIELDS}


def _color(value: str, name: str) -> str:
    return value if len(value) == 7 and HEX_COLOR_RE.fullmatch(value) else DEFAULT_COLORS[name]


def theme_of(owner: BrandOwner) -> Theme:
    """The theme of a brand; a reseller without a brand shows the defaults under its name."""
    brand = owner.brand
    fallback_name = owner.reseller.name if owner.reseller is not None else DEFAULT_NAME
    colors = {name: _color(getattr(brand, name, "") or "", name) for name in COLOR_FIELDS}
    return Theme(
        reseller_id=owner.reseller_id,
        display_name=(brand.display_name if brand else "") or fallback_name,
        support_email=brand.support_email if brand else "",
        footer_text=brand.footer_text if brand else "",
        default_language=(brand.default_language if brand else "") or DEFAULT_LANGUAGE,
        logo_sha256=brand.logo_sha256 if brand else "",
        own_language=(brand.default_language if brand else "") or "",
        **colors,
    )


def render_css(theme: Theme) -> str:
    """The theme as CSS custom properties on ``:root``."""
    lines = [f"  {CSS_VARIABLES[name]}: {value};" for name, value in theme.colors().items()]
    if theme.logo_url:
        lines.append(f'  --brand-logo: url("{theme.logo_url}");')
    return ":root {\n" + "\n".join(lines) + "\n}\n"
