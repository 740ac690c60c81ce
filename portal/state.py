"""What the CPAS pages' handlers share, built once at start."""

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2
from aiohttp import web

from ledger import BalanceView, Ledger

from .access import Access

# What the balance line says of a balance, in a language (the line's own sentences, given by
# the composition root): a resident's page shows staff what the resident hears.
LineWords = Callable[[BalanceView, str], list[str]]


@dataclass(frozen=True)
class PortalConfig:
    secret: bytes  # signs the cookies; the same on every instance
    locales: Path
    secure_cookies: bool = True  # HTTPS only (off for http://localhost)


@dataclass(frozen=True)
class ApiState:
    """What the JSON API's handlers share, set when its sub-app starts."""

    ledger: Callable[[web.Request], Ledger]
    access: Callable[[web.Request], Access]
    document: bytes  # the OpenAPI description, checked to be JSON


@dataclass
class Portal:
    config: PortalConfig
    texts: Mapping[str, Mapping[str, str]]
    pages: jinja2.Environment
    ledger: Callable[[web.Request], Ledger]
    access: Callable[[web.Request], Access]
    line_words: LineWords
    static_files: frozenset[str]  # the style sheet's folder, read at start

    def sign(self, value: str, purpose: str) -> str:
        # surrogatepass: a cookie's undecodable bytes (kept as lone surrogates) sign too.
        mac = hmac.new(self.config.secret,
                       f"{purpose}:{value}".encode("utf-8", "surrogatepass"), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")

    def verify(self, value: str, purpose: str, signature: str) -> bool:
        """Whether `signature` is ours for `value`: whatever was sent (non-ASCII, surrogates)
        is compared as bytes, in constant time, and is simply not ours."""
        return hmac.compare_digest(self.sign(value, purpose).encode(),
                                   signature.encode("utf-8", "surrogatepass"))

    def unsigned(self, signed: str, purpose: str) -> str | None:
        value, _, signature = signed.rpartition(".")
        if value and value.isascii() and value.isprintable() \
                and self.verify(value, purpose, signature):
            return value
        return None
