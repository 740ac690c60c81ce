"""The ledger's exception tree.

LedgerError
├── InvalidInput        a value is malformed or breaks a rule (names the field)
├── UnknownAccount      no account has this EAN
├── ReferenceConflict   a reference was reused for another top-up or payment plan
└── DemoRefused         the database holds real data, the demo will not touch it
"""


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""


class InvalidInput(LedgerError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownAccount(LedgerError):
    def __init__(self, ean_text: str):
        super().__init__("no prepayment account has this EAN")
        self.ean_text = ean_text


class ReferenceConflict(LedgerError):
    def __init__(self, reference: str):
        super().__init__(f"reference {reference!r} was already used for another payment")
        self.reference = reference


class DemoRefused(LedgerError):
    pass
