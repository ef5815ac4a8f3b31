"""Hypothesis strategies for message bodies: GSM-7 (extension-heavy too), UCS-2 with emoji, mixtures.

Lengths cluster around the segment boundaries (160/153 septets, 70/67 units) where the bugs live.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.encoding import reference_gsm0338 as ref

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EMOJI = "😀🎉👍🏽💩🚀🇫🇷🧑\u200d💻𝄞𠜎"  # astral characters (and two ZWJ/flag sequences' parts)
BMP_NON_GSM = "ЖжДπ中文한글çñ\u00a0–—“”…\t\x00"

gsm_char = st.sampled_from(ref.ALL_GSM_CHARS)
extension_char = st.sampled_from(ref.EXTENSION_CHARS)
astral_char = st.sampled_from([char for char in EMOJI if ord(char) > 0xFFFF]) | st.characters(
    min_codepoint=0x10000, max_codepoint=0x10FFFF
)
any_char = st.characters(exclude_categories=["Cs"])  # every code point except lone surrogates

# Sizes around 1, 2 and 3 parts of each encoding.
_SIZES = st.sampled_from([(0, 20), (60, 80), (130, 170), (290, 330), (440, 470)])


@st.composite
def _text(draw: st.DrawFn, alphabet: st.SearchStrategy[str]) -> str:
    low, high = draw(_SIZES)
    return draw(st.text(alphabet, min_size=low, max_size=high))


gsm_text = _text(gsm_char) | _text(gsm_char | extension_char | extension_char)
"""Text entirely in GSM-7; the second half is roughly half extension characters."""

ucs2_text = _text(gsm_char | astral_char | st.sampled_from(BMP_NON_GSM)).filter(lambda text: not ref.is_gsm7(text))
"""Text that needs UCS-2, with astral characters spread through it."""

mixed_text = _text(gsm_char | extension_char | astral_char | any_char | st.sampled_from(BMP_NON_GSM))

message_text = gsm_text | ucs2_text | mixed_text
