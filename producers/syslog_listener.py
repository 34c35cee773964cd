"""Syslog listener: CDR lines an SBC sends over syslog (UDP, TCP) → parsed → published in batches.

Each message is parsed by the format's parser exactly as a line of a file (AudioCodes SBCs send
the lines audiocodes_syslog reads from files). Every peer stream — a UDP sender address, a TCP
connection — gets its own per-file parser, made from its first message, so a device's title line
sets the layout of that device's lines only. A message that is no CDR goes to the dead-letter
topic; as there is no file offset, its position is the peer and the message's sequence number
from that peer since the listener started ("udp://10.1.1.5:514#17"), which CDR.source_file and
source_offset carry too.

What is and is not guaranteed (syslog cannot give what the file source gives):
- UDP (RFC 5426) has no acknowledgement and no replay: a datagram sent while the listener is
  down, or dropped by a full socket buffer, is lost, and nothing here can notice it.
- TCP (RFC 6587) has no application-level acknowledgement either: a sender counts a message
  delivered once its kernel sent it, so "nothing acknowledged before the broker acknowledged",
  as files are checkpointed, is impossible. What the listener does: it stops reading a connection
  while `max_pending` messages wait for the broker, so a slow broker fills the sender's TCP window
  and the sender queues, rather than this process dropping or growing without bound.
- Received messages are published at least every `flush_s` (and sooner when max_pending are
  waiting); on shutdown (SIGTERM, Ctrl-C) the listener goes on receiving for `grace_s` (taking in
  what senders already sent), then closes its sockets and connections, publishes everything
  received and waits for the broker's ack. A sender still writing after that must resend.
- Lost on a crash (kill -9, power): what was received but not yet acknowledged by the broker, at
  most about flush_s of traffic plus one publish in flight. A publish the broker refuses is
  logged and counted in `unpublished`; the listener goes on receiving, but beats its heartbeat
  only after acknowledged flushes, so `cdrflow probe` fails while the broker keeps refusing.
- A message sent twice (a sender resending after a reconnect) is stored once: cdr_id comes from
  the record itself (AudioCodes: SIP Call-ID, SessionId, report type), not from its position.
Where a lost CDR matters, have the SBC also keep its CDR file (or relay through a syslog daemon
with a disk queue into files) and read that with `cdrflow ingest --follow`, which checkpoints
only after the broker acknowledged.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from confluent_kafka import KafkaException

from .file_source import SourceStats, send_dead_letter
from .heartbeat import Heartbeat
from .parsing import FileParser, HeaderCsvFormat, LineParser, RecordError, RecordParser, SourceContext
from .publisher import DeliveryFailed, Publisher

log = logging.getLogger("cdrflow.producers")

MAX_MESSAGE = 64 * 1024   # RFC 5425/6587 receivers must take 2 KiB; SBC CDR lines stay well below this
_MAX_COUNT_DIGITS = 6


class SyslogFramer:
    """Splits a TCP syslog byte stream into messages (RFC 6587): a frame that begins with a digit
    is octet-counted ("LEN SP MSG", §3.4.1), any other ends at LF (non-transparent framing,
    §3.4.2; a syslog message itself begins with "<PRI>"). Senders may mix both on one connection.
    A stream that cannot be split any more (a bad count, a frame too long) is `broken`, with the
    reason: the messages before the break are still returned, nothing after it."""

    def __init__(self, max_message: int = MAX_MESSAGE):
        self.max_message = max_message
        self.broken: str | None = None
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        if self.broken:
            return []
        buf = self._buffer
        buf += data
        messages, start = [], 0
        while start < len(buf):
            if 0x30 <= buf[start] <= 0x39:
                space = buf.find(b" ", start, start + _MAX_COUNT_DIGITS + 1)
                digits = bytes(buf[start:space if space >= 0 else start + _MAX_COUNT_DIGITS + 1])
                if not digits.isdigit() or (space < 0 and len(digits) > _MAX_COUNT_DIGITS):
                    self.broken = f"bad octet count {digits[:10]!r}"
                    break
                if space < 0:
                    break                                    # the count continues in the next read
                length = int(digits)
                if length > self.max_message:
                    self.broken = f"octet count {length} exceeds {self.max_message}"
                    break
                end = space + 1 + length
                if end > len(buf):
                    break
                messages.append(bytes(buf[space + 1:end]))
                start = end
            else:
                newline = buf.find(b"\n", start)
                if newline < 0:
                    if len(buf) - start > self.max_message:
                        self.broken = f"line longer than {self.max_message} bytes"
                    break
                messages.append(bytes(buf[start:newline]))
                start = newline + 1
        del buf[:start]
        return [m for m in messages if m.strip()]

    def rest(self) -> bytes:
        """What the stream ended with but no frame completed (a last line without LF)."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return rest


def _peer(scheme: str, address: tuple) -> str:
    host, port = address[0], address[1]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


@dataclass
class SyslogListener:
    source: str
    parser: LineParser | FileParser
    publisher: Publisher
    timezone: ZoneInfo
    flush_s: float = 0.5
    max_pending: int = 20_000          # messages waiting for the broker before TCP reading pauses
    grace_s: float = 0.3               # on shutdown, how long messages are still received
    stats: SourceStats = field(default_factory=SourceStats)
    unpublished: int = 0               # CDRs and dead letters the broker did not acknowledge
    ports: dict[str, int] = field(default_factory=dict)   # bound ports, once listening
    heartbeat: Heartbeat | None = None  # beaten after each flush the broker acknowledged (or with nothing to send)

    def __post_init__(self) -> None:
        # a file's header row, a table's records and calls grouped across rows have no syslog form
        if isinstance(self.parser, (RecordParser, HeaderCsvFormat)):
            raise ValueError(f"format {self.parser.format_name} cannot be read from syslog messages")
        self._streams: dict[str, tuple[LineParser, int]] = {}   # peer → its parser, next sequence number
        self._cdrs: list[dict] = []
        self._letters: list[tuple[str, str, bytes]] = []       # position, reason, raw
        self._publishing = asyncio.Lock()
        self._connections: set[asyncio.StreamWriter] = set()

    # -- decode → batch (pure: tests call receive() directly) --------------------------------
    def receive(self, peer: str, message: bytes) -> None:
        """Parses one message from peer into the next batch, or the next batch's dead letters."""
        if peer in self._streams:
            parser, seq = self._streams[peer]
        else:
            parser, seq = (self.parser.for_file(message) if isinstance(self.parser, FileParser) else self.parser), 0
        self._streams[peer] = (parser, seq + 1)
        self.stats.lines += 1
        self.stats.bytes += len(message)
        try:
            cdr = parser(message, seq, SourceContext(self.source, peer, self.timezone))
        except RecordError as exc:
            self._letters.append((f"{peer}#{seq}", str(exc), message.rstrip(b"\r\n")))
            return
        if cdr is not None:
            self._cdrs.append(cdr)

    def pending(self) -> int:
        return len(self._cdrs) + len(self._letters)

    # -- publish → acknowledge ------------------------------------------------------------------
    def _publish(self, cdrs: list[dict], letters: list[tuple[str, str, bytes]]) -> bool:
        """Runs in a worker thread, one at a time: the only code that touches the publisher;
        True when the broker acknowledged."""
        try:
            for position, reason, raw in letters:
                send_dead_letter(self.publisher, self.stats, self.source, self.parser.format_name, position, reason,
                                 raw)
            self.publisher.send_cdrs(self.source, cdrs)
            self.publisher.flush()
        except (DeliveryFailed, KafkaException) as exc:
            self.unpublished += len(cdrs) + len(letters)
            log.error("syslog listener: %d CDR(s) and %d dead letter(s) not acknowledged: %s",
                      len(cdrs), len(letters), exc)
            return False
        self.stats.cdrs += len(cdrs)
        return True

    async def flush(self) -> None:
        """Publishes what was received so far and waits for the broker's acknowledgement."""
        async with self._publishing:
            cdrs, letters, self._cdrs, self._letters = self._cdrs, self._letters, [], []
            acknowledged = await asyncio.to_thread(self._publish, cdrs, letters) if cdrs or letters else True
            # a broker that keeps refusing stops the beats, and the liveness probe restarts us
            if acknowledged and self.heartbeat:
                self.heartbeat.beat()

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            await self.flush()

    # -- the network edge -----------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer("tcp", writer.get_extra_info("peername"))
        framer = SyslogFramer()
        self._connections.add(writer)
        try:
            while data := await reader.read(65536):
                for message in framer.feed(data):
                    self.receive(peer, message)
                if framer.broken:
                    seq = self._streams.get(peer, (None, 0))[1]
                    self._letters.append((f"{peer}#{seq}", f"bad syslog frame, connection closed: {framer.broken}",
                                          framer.rest()[:200]))
                    return
                while self.pending() >= self.max_pending:   # back-pressure: leave the rest in TCP
                    await self.flush()
            if rest := framer.rest().strip():
                self.receive(peer, rest)
        except ConnectionError:
            pass
        finally:
            self._connections.discard(writer)
            self._streams.pop(peer, None)
            writer.close()

    async def serve(self, host: str, udp_port: int | None, tcp_port: int | None, stop: asyncio.Event) -> None:
        """Listens until stop is set, then shuts down as the module doc says (port 0 = any free
        port; the bound ones are in self.ports)."""
        loop = asyncio.get_running_loop()
        udp = server = None
        if udp_port is not None:
            udp, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), local_addr=(host, udp_port))
            self.ports["udp"] = udp.get_extra_info("sockname")[1]
        if tcp_port is not None:
            server = await asyncio.start_server(self._connection, host, tcp_port, limit=MAX_MESSAGE)
            self.ports["tcp"] = server.sockets[0].getsockname()[1]
        flusher = asyncio.create_task(self._flush_every())
        try:
            await stop.wait()
        finally:
            # what senders already sent (connections still in the accept queue too) is taken in
            await asyncio.sleep(self.grace_s)
            if udp:
                udp.close()
            if server:
                server.close()
            for writer in list(self._connections):
                writer.close()
            while self._connections:                 # handlers take in what their sockets held
                await asyncio.sleep(0.01)
            flusher.cancel()
            await self.flush()

    def run(self, host: str, udp_port: int | None, tcp_port: int | None) -> SourceStats:
        """Serves until SIGTERM or SIGINT (Ctrl-C), then publishes what was received and returns."""
        async def main() -> None:
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            await self.serve(host, udp_port, tcp_port, stop)

        asyncio.run(main())
        return self.stats


class _Datagrams(asyncio.DatagramProtocol):
    """One syslog message per datagram (RFC 5426)."""

    def __init__(self, listener: SyslogListener):
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if data.strip():
            self.listener.receive(_peer("udp", addr), data)
