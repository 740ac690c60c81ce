"""A webhook's form read in one pass (UTF-8, Twilio's charset) gives exactly what reading it
byte for byte then decoding each field gives — or says, as that does, that it is not text."""

from urllib.parse import quote_from_bytes

from hypothesis import given
from hypothesis import strategies as st

from webhooks.signature import _byte_fields, _text_fields


def _decoded_field_by_field(data: bytes) -> list[tuple[str, str]] | None:
    try:
        return [(name.encode("latin-1").decode("utf-8"), value.encode("latin-1").decode("utf-8"))
                for name, value in _byte_fields(data)]
    except UnicodeError:
        return None


pieces = st.one_of(
    st.text(max_size=8).map(lambda text: text.encode("utf-8")),  # raw UTF-8
    st.binary(max_size=4),  # any bytes: cut characters, Latin-1
    st.binary(max_size=4).map(lambda raw: quote_from_bytes(raw).encode()),  # escaped bytes
    st.text(max_size=4).map(lambda text: quote_from_bytes(text.encode("utf-8")).encode()),
    st.sampled_from([b"&", b"=", b"+", b"%", b"%C3", b"%A9", b"\xc3", b"\xa9", b"%2B"]),
)


@given(st.lists(pieces, max_size=12).map(b"".join))
def test_utf_8_forms_read_in_one_pass_as_field_by_field(data):
    assert _text_fields(data, "utf-8") == _decoded_field_by_field(data)


def test_an_escape_completing_raw_bytes_is_still_read():
    assert _text_fields(b"Body=\xc3%A9", "utf-8") == [("Body", "é")]
    assert _text_fields(b"Body=caf%C3%A9+ok&From=%2B32470", "UTF-8") == [
        ("Body", "café ok"), ("From", "+32470")]
    assert _text_fields(b"Body=%C3", "utf-8") is None
