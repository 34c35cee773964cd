"""Country code, region and type of E.164 numbers: phonenumbers' own answers, found by prefix.

phonenumbers parses an E.164 string and finds its region (among the regions sharing a country
code: the 25 of NANP's +1, GB/GG/IM/JE's +44 …) and its type by fullmatching the national
number against its metadata's patterns: ~35 µs a number, and at carrier rates most numbers are
new. But a real numbering plan's patterns are decided by a number's first digits and its length.
Once every pattern that can take part either matches all national numbers of that length
beginning with a prefix or none of them, phonenumbers' answer is the same for all those numbers.
Which prefixes decide is computed from the patterns themselves (each read into a small automaton
over the digits, `Automaton`), so the table is exact, not learned from samples: the first number
met under a deciding prefix is answered by phonenumbers, and that answer stands for the prefix.
tests/test_number_plan.py compares every answer with phonenumbers' on generated numbers.
"""
from __future__ import annotations

import re
from functools import lru_cache
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Iterable

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber

DIGITS = "0123456789"
# what phonenumbers' type check reads, in its order (phonenumberutil._number_type_helper)
DESCS = ("general_desc", "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
         "voicemail", "fixed_line", "mobile")
MAX_PREFIXES = 1 << 17      # the table's bound: past it, it starts again


class Unsupported(ValueError):
    """A pattern construct the automaton does not read; its country is left to phonenumbers."""


class Automaton:
    """A pattern's NFA over the ten digits (Thompson's construction from re's own parse), stepped
    on ε-closed state sets; `verdict` says whether every, no or only some digit strings of a
    length complete a set to a match."""

    def __init__(self, pattern: str, prefix_match: bool = False):
        self.moves: list[list[tuple[frozenset[str], int]]] = []
        self.empty: list[list[int]] = []
        start = self._state()
        end = self._sequence(sre_parse.parse(pattern), start)
        if prefix_match:      # re.match: any continuation of a match matches
            self.moves[end].append((frozenset(DIGITS), end))
        self.accept = end
        self.start = self._closure({start})
        self._steps: dict[tuple[frozenset[int], str], frozenset[int]] = {}
        self._verdicts: dict[tuple[frozenset[int], int], bool | None] = {}

    def _state(self) -> int:
        self.moves.append([])
        self.empty.append([])
        return len(self.moves) - 1

    def _sequence(self, items: Iterable, at: int) -> int:
        for op, arg in items:
            entry = self._state()           # a fresh entry per item keeps loops from leaking
            self.empty[at].append(entry)
            at = self._item(op, arg, entry)
        return at

    def _item(self, op: Any, arg: Any, at: int) -> int:
        if op is sre_constants.LITERAL:
            return self._move(at, frozenset(chr(arg)) & frozenset(DIGITS))
        if op is sre_constants.NOT_LITERAL:
            return self._move(at, frozenset(DIGITS) - frozenset(chr(arg)))
        if op is sre_constants.IN:
            return self._move(at, _char_set(arg))
        if op is sre_constants.SUBPATTERN:
            return self._sequence(arg[3], at)
        if op is sre_constants.BRANCH:
            end = self._state()
            for alternative in arg[1]:
                self.empty[self._sequence(alternative, at)].append(end)
            return end
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            low, high, body = arg
            for _ in range(low):
                at = self._sequence(body, at)
            if high is sre_constants.MAXREPEAT:
                loop = self._state()
                self.empty[at].append(loop)
                self.empty[self._sequence(body, loop)].append(loop)
                return loop
            exits = [at]
            for _ in range(high - low):
                at = self._sequence(body, at)
                exits.append(at)
            end = self._state()
            for state in exits:
                self.empty[state].append(end)
            return end
        raise Unsupported(f"pattern construct {op}")

    def _move(self, at: int, chars: frozenset[str]) -> int:
        to = self._state()
        self.moves[at].append((chars, to))
        return to

    def _closure(self, states: Iterable[int]) -> frozenset[int]:
        seen = set(states)
        todo = list(seen)
        while todo:
            for to in self.empty[todo.pop()]:
                if to not in seen:
                    seen.add(to)
                    todo.append(to)
        return frozenset(seen)

    def step(self, states: frozenset[int], digit: str) -> frozenset[int]:
        key = (states, digit)
        if (found := self._steps.get(key)) is None:
            found = self._steps[key] = self._closure(
                to for s in states for chars, to in self.moves[s] if digit in chars)
        return found

    def run(self, digits: str) -> frozenset[int]:
        """The states after reading digits from the start."""
        states = self.start
        for digit in digits:
            states = self.step(states, digit)
        return states

    def verdict(self, states: frozenset[int], remaining: int) -> bool | None:
        """True: every string of `remaining` digits completes a match; False: none does; None: some."""
        if not states:
            return False
        if remaining == 0:
            return self.accept in states
        key = (states, remaining)
        if key not in self._verdicts:
            answers = {self.verdict(self.step(states, d), remaining - 1) for d in DIGITS}
            self._verdicts[key] = answers.pop() if len(answers) == 1 else None
        return self._verdicts[key]


def _char_set(items: Any) -> frozenset[str]:
    chars: set[str] = set()
    negate = False
    for op, arg in items:
        if op is sre_constants.LITERAL:
            chars.add(chr(arg))
        elif op is sre_constants.RANGE:
            chars.update(chr(c) for c in range(arg[0], arg[1] + 1))
        elif op is sre_constants.CATEGORY and arg is sre_constants.CATEGORY_DIGIT:
            chars.update(DIGITS)
        elif op is sre_constants.NEGATE:
            negate = True
        else:
            raise Unsupported(f"character class item {op}")
    found = frozenset(DIGITS) & frozenset(chars)
    return frozenset(DIGITS) - found if negate else found


class _Country:
    """One country code's automata: per region, its leading digits (when several regions share the
    code) and its type patterns, each with the national number lengths it admits."""

    def __init__(self, country_code: int):
        regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
        self.code = country_code
        self.questions: list[tuple[Automaton, frozenset[int] | None]] = []
        for region in regions:
            meta = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
            if meta is None:
                continue
            if len(regions) > 1 and meta.leading_digits is not None:
                self.questions.append((Automaton(meta.leading_digits, prefix_match=True), None))
            for name in DESCS:
                desc = getattr(meta, name)
                if desc is not None and desc.national_number_pattern:
                    lengths = frozenset(desc.possible_length) if desc.possible_length else None
                    self.questions.append((Automaton(desc.national_number_pattern), lengths))
        # national numbers that parse would strip a national prefix from are left to phonenumbers
        main = PhoneMetadata.metadata_for_region_or_calling_code(
            country_code, phonenumbers.region_code_for_country_code(country_code))
        prefix = main.national_prefix_for_parsing if main is not None else None
        self.national_prefix = re.compile(prefix) if prefix else None


class NumberPlan:
    """E.164 → (country code, national significant number), region and type, as phonenumbers
    answers them; one instance keeps its prefix table across calls (bounded by MAX_PREFIXES)."""

    def __init__(self) -> None:
        # (country code, length, prefix) → (region, type), or the automata's states when undecided
        self._prefixes: dict[tuple[int, int, str], tuple] = {}
        self._depths: dict[tuple[int, int], int] = {}     # (country code, length) → the last answer's depth

    def split(self, e164: str) -> tuple[int, str] | None:
        """(country code, national significant number) as phonenumbers.parse(e164, None) reads
        them; None when it raises. A plain "+digits" string is split here when parse would do no
        more than take the country code off; anything else is parsed."""
        digits = e164[1:]
        if e164[:1] == "+" and 3 <= len(digits) <= 20 and digits.isdigit() and digits.isascii() \
                and digits[0] != "0":
            for size in (1, 2, 3):
                if (cc := int(digits[:size])) in COUNTRY_CODE_TO_REGION_CODE:
                    nsn = digits[size:]
                    country = _country(cc)
                    if (country is not None and 2 <= len(nsn) <= 17 and nsn[0] != "0"
                            and not (country.national_prefix and country.national_prefix.match(nsn))):
                        return cc, nsn
                    break
        try:
            parsed = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException:
            return None
        return parsed.country_code or 0, phonenumbers.national_significant_number(parsed)

    def region(self, cc: int, nsn: str) -> str | None:
        regions = COUNTRY_CODE_TO_REGION_CODE.get(cc)
        if regions is None:
            return None
        if len(regions) == 1:
            return regions[0]
        return self.region_and_type(cc, nsn)[0]

    def region_and_type(self, cc: int, nsn: str) -> tuple[str | None, int]:
        """phonenumbers.region_code_for_number and number_type of the number."""
        country = _country(cc)
        if country is None or not nsn.isdigit() or nsn[0] == "0":
            return _ask_phonenumbers(phone_number(cc, nsn))
        prefixes, length = self._prefixes, len(nsn)
        # numbers of a country and length mostly decide at one depth: look there first (an answer
        # stored for a prefix holds for every number under it, whatever the shorter prefixes hold)
        if (depth := self._depths.get((cc, length))) is not None:
            found = prefixes.get((cc, length, nsn[:depth]))
            if found is not None and found[0] == "answer":
                return found[1]
        states: tuple | None = None
        for k in range(length + 1):
            key = (cc, length, nsn[:k])
            found = prefixes.get(key)
            if found is None:
                if states is None:     # the empty prefix's states: the automata's start sets
                    states = tuple(automaton.start for automaton, _ in country.questions)
                else:
                    digit = nsn[k - 1]
                    states = tuple(automaton.step(s, digit) for (automaton, _), s in zip(country.questions, states))
                found = self._decide(country, length, k, states, nsn)
                if len(prefixes) >= MAX_PREFIXES:
                    prefixes.clear()
                prefixes[key] = found
            if found[0] == "answer":
                self._depths[(cc, length)] = k
                return found[1]
            states = found[1]
        raise AssertionError("the whole number always decides")     # pragma: no cover

    def _decide(self, country: _Country, length: int, k: int, states: tuple, nsn: str) -> tuple:
        remaining = length - k
        for (automaton, lengths), s in zip(country.questions, states):
            if (lengths is None or length in lengths) and automaton.verdict(s, remaining) is None:
                return ("states", states)
        return ("answer", _ask_phonenumbers(phone_number(country.code, nsn)))

@lru_cache(maxsize=None)
def _country(cc: int) -> _Country | None:
    """A country's automata depend on phonenumbers' metadata only: built once a process."""
    try:
        return _Country(cc) if cc in COUNTRY_CODE_TO_REGION_CODE else None
    except Unsupported:
        return None


def phone_number(cc: int, nsn: str) -> PhoneNumber:
    """The PhoneNumber parse builds from a country code and national significant number (leading
    zeros kept as phonenumbers keeps them: the Italian leading zero and its count)."""
    found = PhoneNumber(country_code=cc, national_number=int(nsn))
    if len(nsn) > 1 and nsn[0] == "0":
        found.italian_leading_zero = True
        zeros = len(nsn) - len(nsn.lstrip("0"))
        zeros = min(zeros, len(nsn) - 1)
        if zeros != 1:
            found.number_of_leading_zeros = zeros
    return found


def _ask_phonenumbers(parsed: PhoneNumber) -> tuple[str | None, int]:
    return phonenumbers.region_code_for_number(parsed), phonenumbers.number_type(parsed)
