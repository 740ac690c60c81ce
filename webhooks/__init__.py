"""The Twilio webhook boundary the balance line (ivr) and the SMS delivery reports (messaging)
share: only signed requests get in, and any body gets an answer (webhooks/signature.py)."""

from .signature import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    form_of,
    signature_middleware,
)

__all__ = ["MAX_BODY_BYTES", "SIGNATURE_HEADER", "SIGNATURE_SETTINGS_HEADER", "form_of",
           "signature_middleware"]
