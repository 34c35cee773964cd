"""The numbering-plan prefix table and the rating built on it give phonenumbers' own answers."""
from __future__ import annotations

import re
from itertools import product
from random import Random

import phonenumbers
import pytest
from cdrflow.infra.config import Settings
from cdrflow.producers.simulate import default_config, generate
from cdrflow.schemas.e164 import e164_normaliser
from cdrflow.schemas.number_plan import Automaton, NumberPlan
from cdrflow.tenants.rating import area_code, direction_classifier, home_area_of

SETTINGS = Settings()       # the demo world: three US tenants, the simulator's US/GB/FR/DE numbers


def reference_direction(e164: str, home_region: str, home_area: str) -> tuple[str, str]:
    """The straightforward phonenumbers calls the rating must agree with."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "unknown", ""
    region = phonenumbers.region_code_for_number(parsed) or ""
    if parsed.country_code != phonenumbers.country_code_for_region(home_region):
        return "international", region
    if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE:
        return "mobile", region
    return ("local" if home_area and area_code(parsed) == home_area else "long_distance"), region


def simulated_numbers() -> list[str]:
    """E.164 numbers of the demo world's simulated traffic: every pool, tenant DID and spare number."""
    normalise = e164_normaliser(SETTINGS.home_region)
    config = default_config(SETTINGS, seed=5, calls_per_second=2000.0, start_ms=1_795_000_000_000)
    calls = list(generate(config, count=3000))
    found = {normalise(c[f]) for c in calls for f in ("calling_number", "called_number")}
    return sorted(n for n in found if n)


def random_numbers(count: int) -> list[str]:
    """Plausible and implausible E.164 strings: the tenants' and simulator's countries (NANP with
    its 25 regions, GB with GG/IM/JE), every other country code, and lengths around the valid ones."""
    rng = Random(19)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    out = []
    for i in range(count):
        cc = ("1", "44", "33", "49")[i % 4] if i % 2 else str(rng.choice(codes))
        length = rng.randint(4, 13) if i % 5 == 0 else {"1": 10, "44": 10, "33": 9, "49": 10}.get(cc, 9)
        out.append(f"+{cc}{rng.randint(1, 9)}{rng.randrange(10 ** (length - 1)):0{length - 1}d}")
    return out + ["+1", "+12", "+999123456", "+0123456", "+44 20 7946 0999", "tel:+12125550100", "+1212555010x", ""]


def example_numbers() -> list[str]:
    """phonenumbers' example number of every region and type, and the same with its last three
    digits redrawn: every region sharing a country code (NANP's 25, GB's four …) is met."""
    rng = Random(23)
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE,
                     phonenumbers.PhoneNumberType.TOLL_FREE, phonenumbers.PhoneNumberType.PREMIUM_RATE,
                     phonenumbers.PhoneNumberType.VOIP):
            if (example := phonenumbers.example_number_for_type(region, kind)) is not None:
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                out += [e164, f"{e164[:-3]}{rng.randrange(1000):03d}"]
    return out


NUMBERS = simulated_numbers() + example_numbers() + random_numbers(4000)


def test_numbers_cover_what_the_table_must_decide():
    nanp = {phonenumbers.region_code_for_number(phonenumbers.parse(n)) for n in NUMBERS if n.startswith("+1")
            and n[1:].isdigit() and len(n) == 12}
    assert len(NUMBERS) > 5000 and len(nanp - {None}) == len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])


def test_split_region_and_type_are_phonenumbers_answers():
    plan = NumberPlan()
    wrong = []
    for e164 in NUMBERS:
        try:
            parsed = phonenumbers.parse(e164, None)
            expected = (parsed.country_code, phonenumbers.national_significant_number(parsed))
        except phonenumbers.NumberParseException:
            parsed, expected = None, None
        split = plan.split(e164)
        if split != expected:
            wrong.append((e164, "split", split, expected))
        elif parsed is not None:
            answer = (phonenumbers.region_code_for_number(parsed), phonenumbers.number_type(parsed))
            if plan.region_and_type(*split) != answer or plan.region(*split) != answer[0]:
                wrong.append((e164, "region/type", plan.region_and_type(*split), answer))
    assert wrong == []


@pytest.mark.parametrize("home_region,home_area", [
    *[(t.home_region or SETTINGS.home_region, home_area_of(t, t.home_region or SETTINGS.home_region))
      for t in SETTINGS.tenants.values()],
    ("GB", "20"), ("DE", "30"), ("FR", "1")])
def test_direction_equals_the_plain_phonenumbers_answer(home_region, home_area):
    classify = direction_classifier(home_region, home_area, cache_size=0)
    wrong = [(n, classify(n), reference_direction(n, home_region, home_area)) for n in NUMBERS
             if classify(n) != reference_direction(n, home_region, home_area)]
    assert wrong == []


@pytest.mark.parametrize("pattern", [r"[2-9]\d{9}|3\d{6}", r"(?:1|23)\d{2,3}", r"4\d+|[^3]5?",
                                     r"(?:7(?:4[0-5]|9\d))\d{6}"])
def test_automaton_matches_as_re_does(pattern):
    automaton = Automaton(pattern)
    rng = Random(3)
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 11)))
        assert (automaton.accept in automaton.run(digits)) == bool(re.fullmatch(pattern, digits)), digits
    # a verdict over all completions is what the completions say
    for prefix in ("", "2", "3", "74", "745", "7459"):
        for remaining in range(4):
            completions = {bool(re.fullmatch(pattern, prefix + "".join(tail)))
                           for tail in product("0123456789", repeat=remaining)}
            verdict = automaton.verdict(automaton.run(prefix), remaining)
            assert verdict == (completions.pop() if len(completions) == 1 else None), (prefix, remaining)
