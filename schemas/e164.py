"""E.164 normalisation: the one rule every component uses for numbers as received (phonenumbers)."""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import phonenumbers

from cdrflow.schemas.number_plan import Automaton, Unsupported


def e164_normaliser(home_region: str, cache_size: int = 1 << 16) -> Callable[[str], str | None]:
    """number as received → E.164, or None when it is not a possible number (phonenumbers' answer).

    phonenumbers costs ~20 µs a parse, and at carrier rates most numbers are new to any cache. But
    what a parse does to a plain digit string — which country code, how many leading digits (IDD,
    national prefix, country code) it strips, whether the length is possible — is decided by its
    first digits and its length. So each (plus, leading digits, length) shape learns that rule from
    phonenumbers and reuses it once two parses agreed on it; a shape whose parses disagree, or
    that rewrites digits instead of stripping them, is always parsed — as is every number of a
    country whose prefixes are patterns (AR's 15 → 9, BR's carrier codes …). A national number that
    begins with the home country code ("1 212 …" in the US) is read either way by the home region's
    general pattern, so its shape's leading digits are as many as decide that pattern
    (`_home_cc_shape`). tests/test_enrich.py checks
    the result equals phonenumbers' on every number of several simulated days and on random input.

    Only full parses are cached (cache_size of them): a shape's rule answers in ~1 µs, less than a
    cache's bookkeeping and misses. Caching every answer, at 1 << 18, held ~50 MB in a worker and
    cost it ~1 µs of CPU per CDR (docs/benchmarks.md, 2026-12-05, issue 19: enrichment caches).
    """
    rules: dict[tuple, tuple | None] = {}     # shape → (country code, strip, possible, agreements); None: parse
    home_plain = _plain_prefixes(home_region)
    # a national number that begins with the home country code is read as either, by pattern
    home_cc = str(phonenumbers.country_code_for_region(home_region))
    home_cc_shape = _home_cc_shape(home_region) if home_plain else None

    def parse(number: str) -> tuple[str | None, tuple | None]:
        """phonenumbers' answer, and the rule it followed: (country code, digits stripped, possible)."""
        try:
            parsed = phonenumbers.parse(number, home_region)
        except phonenumbers.NumberParseException:
            return None, ("", 0, False)
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        cc = str(parsed.country_code)
        national = e164[1 + len(cc):]
        digits = number.lstrip("+")
        # a parse that rewrote digits (not just stripped a prefix) has no reusable rule
        rule = (cc, len(digits) - len(national), True) if digits.endswith(national) else None
        if not phonenumbers.is_possible_number(parsed):
            return None, rule and (cc, rule[1], False)
        return e164, rule

    def learn(shape: tuple, rule: tuple | None) -> None:
        known = rules.get(shape, ())
        if known is None:
            return
        plain = home_plain and (rule is None or not rule[0] or _plain_country(rule[0]))
        if rule is None or not plain or (known and known[:3] != rule):
            rules[shape] = None                  # disagreement: this shape is always parsed
        else:
            rules[shape] = (*rule, known[3] + 1 if known else 1)

    @lru_cache(maxsize=cache_size)
    def full_parse(number: str, shape: tuple | None = None) -> str | None:
        """A full parse; the shape it is of (when it has one) learns the rule it followed."""
        e164, followed = parse(number)
        if shape is not None:
            learn(shape, followed)
        return e164

    def normalise(number: str) -> str | None:
        if not number:
            return None
        plus = number.startswith("+")
        digits = number[1:] if plus else number
        if not digits.isdigit() or not digits.isascii():
            return full_parse(number)          # separators, letters, extensions: the full parse
        shape: tuple[bool, str, int]
        if not plus and digits.startswith(home_cc):
            if not home_cc_shape or not (prefix := home_cc_shape(digits)):
                return full_parse(number)
            shape = (plus, prefix, len(digits))
        else:
            shape = (plus, digits[:4 if plus else 6 if digits.startswith("0") else 3], len(digits))
        rule = rules.get(shape)
        if rule is not None and rule[3] >= 2:
            cc, strip, possible, _ = rule
            return f"+{cc}{digits[strip:]}" if possible else None
        return full_parse(number, shape)

    return normalise


@lru_cache(maxsize=None)
def _plain_prefixes(region: str) -> bool:
    """Whether a region's national and international prefixes are plain digits: then what a parse
    strips depends on the leading digits only, not on a pattern over the whole number."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return (meta is not None and meta.national_prefix_transform_rule is None
            and meta.national_prefix_for_parsing in (None, meta.national_prefix)
            and (meta.international_prefix or "").isdigit())


@lru_cache(maxsize=None)
def _plain_country(country_code: str) -> bool:
    # a number with a country code is parsed with its main region's metadata (US for +1)
    return _plain_prefixes(phonenumbers.region_code_for_country_code(int(country_code)))


def _home_cc_shape(home_region: str) -> Callable[[str], str] | None:
    """For a national number that begins with the home country code: the prefix that decides how
    phonenumbers reads it, or "" when none short of the whole number does.

    Whether parse takes those digits as the country code (and then a national prefix) depends on
    whether the number, and what is left after each plain prefix it could strip, fullmatch the home
    region's general pattern. Those answers are read from the pattern's automaton: the shortest
    prefix under which every one of them is the same for all numbers of the length decides."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(home_region)
    if meta is None or not meta.general_desc or not meta.general_desc.national_number_pattern:
        return None
    try:
        general = Automaton(meta.general_desc.national_number_pattern)
    except Unsupported:
        return None
    # every offset any of parse's general-pattern checks can start at: after the country code, a
    # national prefix, both, or an IDD and the digit after it
    longest = max(len(str(meta.country_code)) + 2 * len(meta.national_prefix_for_parsing or ""),
                  len(meta.international_prefix or "") + 1)
    deciding: dict[tuple[int, str], bool] = {}

    def shape(digits: str) -> str:
        length = len(digits)
        # past a few digits more a prefix names too few numbers to be worth a shape: parse them
        for k in range(min(longest, length), min(longest + 4, length)):
            prefix = digits[:k]
            decided = deciding.get((length, prefix))
            if decided is None:
                if len(deciding) >= 1 << 16:
                    deciding.clear()
                decided = deciding[(length, prefix)] = all(
                    general.verdict(general.run(digits[start:k]), length - max(k, start)) is not None
                    for start in range(longest + 1))
            if decided:
                return prefix
        return ""

    return shape
