"""Only Twilio may call the webhooks (the balance line, SMS delivery reports): each carries
X-Twilio-Signature, an HMAC of the public URL and the posted parameters under the account's auth
token (the twilio library's RequestValidator checks it). Without a valid one: 403 and no data.

Webhook Settings (Twilio's Webhooks configuration API) may sign with a key of your own and
HMAC-SHA256 instead; the request then names its algorithm in another header, and
TWILIO_AUTH_TOKEN holds that key's secret."""

from aiohttp import web
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)


def public_url(public_base_url: str, request: web.Request) -> str:
    """The URL Twilio called and signed. Behind a reverse proxy the server sees another host and
    scheme, so it is rebuilt from the configured public base, never from the request's Host."""
    return public_base_url.rstrip("/") + str(request.rel_url)


def signature_middleware(auth_token: str, public_base_url: str):
    validator = RequestValidator(auth_token)

    @web.middleware
    async def require_twilio_signature(request: web.Request, handler):
        params = dict(await request.post()) if request.method == "POST" else {}
        signature = request.headers.get(SIGNATURE_HEADER, "")
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
        if not signature or not validator.validate(public_url(public_base_url, request), params,
                                                   signature, algorithm):
            raise web.HTTPForbidden(text="forbidden")
        return await handler(request)

    return require_twilio_signature
