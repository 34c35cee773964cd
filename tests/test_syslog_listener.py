"""The syslog listener on a real broker: AudioCodes CDR lines (fixtures/audiocodes/sbc_cdr.log, see
test_audiocodes_syslog.py for what each line is) sent as UDP datagrams and over TCP with both
RFC 6587 framings, and `cdrflow listen syslog` stopped by SIGTERM.

Expected, by hand: the fixture's CDR lines are 1 (CALL_END of the manual's call), 4 (CALL_CONNECT
of SessionId 77), 6 and 7 (CALL_END of both legs of 77) and 8 (CALL_END 503); lines 0 (title),
2, 3 (CALL_START) and 5 (other message) give none. A peer's sequence numbers count its messages
from 0, so line i sent as a peer's n-th message has source_offset n.
"""
from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from cdrflow.infra.local_broker import free_port
from cdrflow.producers.formats import parser_for
from cdrflow.producers.publisher import Publisher
from cdrflow.producers.syslog_listener import MAX_MESSAGE, SyslogFramer, SyslogListener
from cdrflow.schemas.envelope import decode_batch
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from support.kafka import read_all
from support.fuzz import fuzz_examples

LINES = (Path(__file__).resolve().parent / "fixtures" / "audiocodes" / "sbc_cdr.log").read_bytes().splitlines()
BAD = LINES[1].replace(b"CALL_END", b"CALL_BEGIN")
NATIVE = {1: "170369730753201211288@10.132.10.245/0/CALL_END", 4: "a84c1f@198.51.100.7/77/CALL_CONNECT",
          6: "16121@10.132.10.250/77/CALL_END", 7: "a84c1f@198.51.100.7/77/CALL_END",
          8: "b77@198.51.100.7/78/CALL_END"}


def octet_counted(message: bytes) -> bytes:
    return str(len(message)).encode() + b" " + message


def test_framer_splits_both_framings_at_any_read_boundary():
    stream = (octet_counted(LINES[0]) + octet_counted(b"<134>two\nlines") + LINES[1] + b"\n\n"
              + octet_counted(LINES[8] + b"\n") + LINES[4] + b"\n")
    expected = [LINES[0], b"<134>two\nlines", LINES[1], LINES[8] + b"\n", LINES[4]]
    whole = SyslogFramer()
    assert whole.feed(stream) == expected and whole.rest() == b""
    for size in (1, 7, 100):
        framer = SyslogFramer()
        got = [m for i in range(0, len(stream), size) for m in framer.feed(stream[i:i + size])]
        assert got == expected, size
    tail = SyslogFramer()
    assert tail.feed(LINES[1] + b"\n" + LINES[8]) == [LINES[1]] and tail.rest() == LINES[8]


def test_framer_breaks_where_the_stream_cannot_be_resynchronised():
    for stream, max_message, reason, before in [
            (octet_counted(LINES[1]) + b"12x <134>abc", MAX_MESSAGE, "bad octet count b'12x'", [LINES[1]]),
            (b"12345678", MAX_MESSAGE, "bad octet count b'1234567'", []),
            (b"101 <134>", 100, "octet count 101 exceeds 100", []),
            (b"<134>" + b"x" * 200, 100, "line longer than 100 bytes", [])]:
        framer = SyslogFramer(max_message=max_message)
        assert framer.feed(stream) == before           # what came before the break is kept
        assert framer.broken == reason
        assert framer.feed(octet_counted(LINES[8])) == []


FRAMES = st.lists(st.tuples(st.booleans(), st.binary(max_size=300)), max_size=8)


@pytest.mark.fuzz
@hypothesis_settings(max_examples=fuzz_examples(2_000), deadline=None, derandomize=True)
@given(FRAMES, st.lists(st.integers(1, 400), min_size=1, max_size=10))
def test_framer_gives_the_sent_messages_whatever_the_reads(frames, reads):
    # syslog messages begin with "<PRI>"; a newline-framed one holds no LF (an octet-counted one may)
    messages = [b"<134>" + (payload if counted else payload.replace(b"\n", b" ")) for counted, payload in frames]
    stream = b"".join(octet_counted(m) if counted else m + b"\n" for m, (counted, _) in zip(messages, frames))
    framer, got, start = SyslogFramer(), [], 0
    for size in reads * (len(stream) // sum(reads) + 1):
        got += framer.feed(stream[start:start + size])
        start += size
    assert (got, framer.broken, framer.rest()) == (messages, None, b"")


class Running:
    """A SyslogListener serving on free loopback ports in a thread, as `cdrflow listen` runs it."""

    def __init__(self, listener: SyslogListener):
        self.listener, self.started = listener, threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.thread.start()
        assert self.started.wait(10)

    async def _main(self) -> None:
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        task = asyncio.create_task(self.listener.serve("127.0.0.1", 0, 0, self.stop))
        while len(self.listener.ports) < 2 and not task.done():
            await asyncio.sleep(0.01)
        self.started.set()
        await task

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(60)
        assert not self.thread.is_alive()


@pytest.fixture
def publisher(settings):
    """A Publisher, dropped at teardown: Tansu stops only after its clients disconnect, and a
    fixture's own value lives until the end of teardown."""
    publishers = [Publisher(settings.kafka_bootstrap, settings)]
    yield Proxy(publishers)
    publishers.pop().close()
    gc.collect()


class Proxy:
    def __init__(self, holder: list):
        self._holder = holder

    def __getattr__(self, name):
        return getattr(self._holder[0], name)


def wait_until(predicate, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_udp_and_tcp_messages_become_cdrs_and_dead_letters(settings, publisher):
    listener = SyslogListener("ac-sbc", parser_for("audiocodes_syslog"), publisher, ZoneInfo("UTC"), flush_s=0.2)
    running = Running(listener)
    udp_port, tcp_port = listener.ports["udp"], listener.ports["tcp"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        for line in [*LINES[0:5], BAD]:
            udp.sendto(line + b"\n", ("127.0.0.1", udp_port))
        udp_peer = f"udp://127.0.0.1:{udp.getsockname()[1]}"
        wait_until(lambda: listener.stats.cdrs == 2)            # published on the timer, not at shutdown
    with socket.create_connection(("127.0.0.1", tcp_port)) as a, socket.create_connection(("127.0.0.1", tcp_port)) as b:
        peer_a, peer_b = (f"tcp://127.0.0.1:{s.getsockname()[1]}" for s in (a, b))
        a.sendall(b"".join(octet_counted(line) for line in (LINES[0], LINES[6], LINES[7])))
        b.sendall(LINES[5] + b"\n" + LINES[8] + b"\n" + BAD)    # no title: default layout; last line without LF
    running.close()                                             # the TCP messages go out with the shutdown flush

    assert (listener.stats.lines, listener.stats.cdrs, listener.stats.dead_letters, listener.unpublished) == \
           (12, 5, 2, 0)
    cdrs = [c for v in read_all(settings.kafka_bootstrap, settings.topic_cdr_batches, expect=2)
            for c in decode_batch(v)]
    assert sorted((c["native_id"], c["source_file"], c["source_offset"]) for c in cdrs) == sorted([
        (NATIVE[1], udp_peer, 1), (NATIVE[4], udp_peer, 4),
        (NATIVE[6], peer_a, 1), (NATIVE[7], peer_a, 2), (NATIVE[8], peer_b, 1)])
    assert {c["source"] for c in cdrs} == {"ac-sbc"}
    letters = [orjson.loads(v) for v in read_all(settings.kafka_bootstrap, settings.topic_dead_letter, expect=2)]
    assert sorted((letter["position"], letter["reason"]) for letter in letters) == sorted([
        (f"{udp_peer}#5", "unknown report type 'CALL_BEGIN'"), (f"{peer_b}#2", "unknown report type 'CALL_BEGIN'")])
    assert all(letter["raw"] == BAD.decode() and letter["source_format"] == "audiocodes_syslog" for letter in letters)


def test_a_broken_frame_is_a_dead_letter_and_ends_the_connection(settings, publisher):
    listener = SyslogListener("ac-sbc", parser_for("audiocodes_syslog"), publisher, ZoneInfo("UTC"), flush_s=0.2)
    running = Running(listener)
    with socket.create_connection(("127.0.0.1", listener.ports["tcp"])) as conn:
        peer = f"tcp://127.0.0.1:{conn.getsockname()[1]}"
        conn.sendall(octet_counted(LINES[1]) + b"99x " + LINES[8])
        wait_until(lambda: listener.stats.dead_letters == 1)
        assert conn.recv(10) == b""                             # closed by the listener
    running.close()
    assert listener.stats.cdrs == 1
    (letter,) = [orjson.loads(v) for v in read_all(settings.kafka_bootstrap, settings.topic_dead_letter, expect=1)]
    assert letter["position"] == f"{peer}#1" and letter["reason"].startswith("bad syslog frame, connection closed")


def test_formats_that_group_or_are_tables_are_refused(publisher):
    for fmt in ("kamailio_acc", "wintariff_dbf"):
        with pytest.raises(ValueError, match="cannot be read from syslog"):
            SyslogListener("x", parser_for(fmt), publisher, ZoneInfo("UTC"))


def test_cli_publishes_what_arrived_when_terminated(settings, tmp_path):
    udp_port, tcp_port = free_port(), free_port()
    env = {**os.environ, "CDRFLOW_SYSLOG_FLUSH_S": "3600"}      # only the shutdown flush publishes
    process = subprocess.Popen([sys.executable, "-m", "cdrflow", "listen", "syslog", "--udp", str(udp_port),
                                "--tcp", str(tcp_port), "--bind", "127.0.0.1", "--source", "ac-sbc"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", tcp_port))
                break
            except ConnectionRefusedError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read().decode()
                time.sleep(0.2)
        with conn:
            conn.sendall(LINES[8] + b"\n")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(LINES[1], ("127.0.0.1", udp_port))
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        out = process.communicate(timeout=60)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out
    assert (Path(settings.resolved_data_dir) / "heartbeat" / "ac-sbc").exists()   # for `cdrflow probe`
    assert "2 messages → 2 CDRs published, 0 dead letters" in " ".join(out.split())
    cdrs = [c for v in read_all(settings.kafka_bootstrap, settings.topic_cdr_batches, expect=1)
            for c in decode_batch(v)]
    assert sorted(c["native_id"] for c in cdrs) == sorted([NATIVE[1], NATIVE[8]])
