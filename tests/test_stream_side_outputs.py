"""The worker's side-output producer (stream/side_outputs.py) on the real broker: a send returns
once its records are delivered, in order per partition, keys on the partitions Faust's aiokafka
producer would choose; a record the broker does not take fails the send."""
from __future__ import annotations

import asyncio

import pytest
from aiokafka.partitioner import DefaultPartitioner

from cdrflow.infra.local_broker import free_port
from cdrflow.stream.side_outputs import DeliveryFailed, SideOutputs

from support.kafka import read_records


def partials_and_ticks(step: int, partitions: int) -> list:
    """One step of a take as Announce sends it: a message per key, then a tick to every partition."""
    keys = [f"ic{k}|{direction}".encode() for k in range(6) for direction in ("in", "out")]
    return ([(key, b"%s step %d" % (key, step), None) for key in keys]
            + [(None, b"tick %d" % step, p) for p in range(partitions)])


def test_a_send_delivers_its_records_in_order_on_aiokafkas_partitions(settings):
    sent = [record for step in range(3) for record in partials_and_ticks(step, settings.partitions)]

    async def main():
        side_outputs = SideOutputs(settings.kafka_bootstrap, settings)
        await side_outputs.send(settings.topic_partials, sent[:len(sent) // 2])
        await side_outputs.send(settings.topic_partials, sent[len(sent) // 2:])
    asyncio.run(main())
    read = read_records(settings.kafka_bootstrap, settings.topic_partials, len(sent), tail_s=0.5)
    choose, every = DefaultPartitioner(), list(range(settings.partitions))
    expected = [(choose(key, every, every) if partition is None else partition, key, value)
                for key, value, partition in sent]
    assert len(read) == len(expected)
    for p in every:     # each partition's records, in the order sent
        assert [r for r in read if r[0] == p] == [r for r in expected if r[0] == p]


@pytest.mark.parametrize("where", ["no broker", "no such partition"])
def test_a_record_the_broker_does_not_take_fails_the_send(where, settings):
    bootstrap = f"127.0.0.1:{free_port()}" if where == "no broker" else settings.kafka_bootstrap
    partition = 0 if where == "no broker" else 7     # the hits topic has one partition

    async def main():
        side_outputs = SideOutputs(bootstrap, settings, delivery_timeout_s=1.0)
        await side_outputs.send(settings.topic_disconnected_hits, [(b"+15550001", b"{}", None),
                                                                    (None, b"{}", partition)])
    with pytest.raises(DeliveryFailed, match=r"not delivered"):
        asyncio.run(main())
