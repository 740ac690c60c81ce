"""Books and references format and parse themselves (ledger/books.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.books import TopUpReference, balance_book, is_balance_book, is_debt_book, \
    plan_debt_book, start_debt_book

CODE = st.text(st.characters(blacklist_characters=":@", blacklist_categories=("Cs",)),
               min_size=1, max_size=20)


@given(channel=CODE, issuer=st.none() | CODE, receipt=st.text(min_size=1, max_size=40))
def test_a_top_up_reference_reads_back_as_written(channel, issuer, receipt):
    """The receipt is the payer's: ':' and '@' inside it stay its own."""
    written = str(TopUpReference(channel, receipt, issuer))
    assert TopUpReference.parse(written) == TopUpReference(channel, receipt, issuer)


def test_a_top_up_reference_keeps_its_historic_form():
    """Keys already in the postings must still match: the form may never change."""
    assert str(TopUpReference("cpas", "R-1:2", "CPAS-NAMUR")) == "topup:cpas@CPAS-NAMUR:R-1:2"
    assert str(TopUpReference("terminal", "T-9")) == "topup:terminal:T-9"


@pytest.mark.parametrize("key", ["consumption:1:2026-12-01:0", "topup:terminal", "balance:1"])
def test_what_is_no_top_up_reference_is_refused(key):
    with pytest.raises(ValueError):
        TopUpReference.parse(key)


def test_books_say_what_they_are():
    assert is_balance_book(balance_book(7)) and not is_debt_book(balance_book(7))
    assert is_debt_book(start_debt_book(7)) and is_debt_book(plan_debt_book(7, "P-1"))
    assert balance_book(7) == "balance:7" and start_debt_book(7) == "debt:start:7"
