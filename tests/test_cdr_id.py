"""One cdr_id formatter (schemas/_uuid5.c): its batch entry point is uuid.UUID's text, and the simulator,
which uses it a block at a time, gives every record make_cdr_id(source, native_id)."""
from __future__ import annotations

import hashlib
import uuid

import pytest
from hypothesis import given, settings, strategies as st

from cdrflow.producers.simulate import SimConfig, generate
from cdrflow.schemas._uuid5 import from_sha1, from_sha1_many
from cdrflow.schemas.cdr import CDR_NAMESPACE, make_cdr_id

digests = st.lists(st.binary(min_size=20, max_size=20), max_size=40)


@settings(max_examples=500, deadline=None, database=None)
@given(digests)
def test_batch_is_uuid_text_of_each_digest(batch):
    expected = [str(uuid.UUID(bytes=digest[:16], version=5)) for digest in batch]
    assert from_sha1_many(b"".join(batch)) == expected == [from_sha1(digest) for digest in batch]


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.text(max_size=60), max_size=20))
def test_batch_of_name_hashes_is_uuid5(names):
    joined = b"".join(hashlib.sha1(CDR_NAMESPACE.bytes + name.encode()).digest() for name in names)
    assert from_sha1_many(joined) == [str(uuid.uuid5(CDR_NAMESPACE, name)) for name in names]


def test_batch_takes_any_buffer_of_whole_digests():
    digest = hashlib.sha1(b"cdr").digest()
    assert from_sha1_many(bytearray(digest * 2)) == from_sha1_many(memoryview(digest * 2)) == [from_sha1(digest)] * 2
    for torn in (digest[:19], digest * 2 + b"\x00"):
        with pytest.raises(ValueError, match="multiple of 20 bytes"):
            from_sha1_many(torn)


source_names = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-._/"), min_size=1, max_size=24)


@settings(max_examples=15, deadline=None, database=None)
@given(seed=st.integers(0, 2**32), start_ms=st.integers(0, 4_000_000_000_000),
       sources=st.lists(source_names, min_size=1, max_size=4, unique=True))
def test_simulator_ids_are_make_cdr_id(seed, start_ms, sources):
    cfg = SimConfig(seed=seed, start_ms=start_ms, calls_per_second=50.0, sources=tuple(sources),
                    interconnects={"TG-ATT-01": "att", "TG-VZ-01": "verizon"}, diurnal=False)
    records = list(generate(cfg, count=600))
    assert {r["source"] for r in records} <= set(sources)
    for record in records:
        assert record["cdr_id"] == make_cdr_id(record["source"], record["native_id"])
