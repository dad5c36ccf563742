"""Brands on hosts: the theme model and its CSS, host → brand resolution, and the routes."""

from branding.resolve import Branding
from branding.routes import routes
from branding.theme import Theme

__all__ = ["Branding", "Theme", "routes"]
