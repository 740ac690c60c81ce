"""What the platform tells its customers about itself, as written (seed 003, DOMAIN.md): its
numbers and sites. The messages print them, the line says them (ivr/prompts.py reads them out),
the pages show them; defined here only."""

CUSTOMER_SERVICE = "078/15.78.01"  # ORES's customer service (option 2 for prepayment)
BALANCE_LINE = "0800/92.424"  # this line: free, 24/7
GAS_LEAK_LINE = "0800/87.087"
TOPUP_SITE = "recharger.ores.be"
TOPUP_POINTS_SITE = "info.ores.be/ou-recharger"

# By the names the message templates know them.
PUBLIC_FACTS = {
    "customer_service": CUSTOMER_SERVICE,
    "balance_line": BALANCE_LINE,
    "gas_leak_line": GAS_LEAK_LINE,
    "topup_site": TOPUP_SITE,
    "topup_points_site": TOPUP_POINTS_SITE,
}
