"""A paho-mqtt client that spends fewer system calls per message, for telemetry rates.

On this kind of machine a loopback ``send()`` costs tens of microseconds, and stock paho makes several system calls
per message: a ``recv()`` for the fixed header, one per remaining-length byte and one for the body, and for every
outgoing packet a ``send()`` plus a wake-up byte to its network thread. This subclass keeps paho's protocol handling,
sessions and reconnects and changes only the I/O:

- reads go through a 256 KiB buffer and :meth:`loop_read` drains it (one ``recv()`` serves hundreds of frames);
- ``on_raw_publish`` receives topic, payload and packet id of each PUBLISH without the per-message objects, locks
  and topic matching of paho's ``on_message`` path;
- ``on_raw_puback`` counts acknowledgements of our publications without paho's per-packet reason-code and
  properties objects;
- :meth:`ack_many` queues the PUBACKs of a whole batch as one write;
- :meth:`publish_many` queues the PUBLISH packets of a whole tick as one write, registering each message with paho
  exactly like ``publish()`` does, so unacknowledged ones are retransmitted after a reconnect.

It relies on paho 2.x internals (``_sock_recv``, ``_packet_read``, ``_packet_queue``, ``_out_messages``);
:func:`supported` checks they are present and callers fall back to the public API otherwise.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt

READ_CHUNK = 256 * 1024
# Packets handled per loop_read() before paho's loop gets to write (acks) and to keep the connection alive.
READ_BURST = 5_000
_PUBACK = 0x40
_PUBLISH_QOS1 = 0x32
_PUBACK_MID = struct.Struct("!BBH")


def supported() -> bool:
    needed = ("_sock_recv", "_packet_read", "_packet_queue", "_loop_rc_handle", "_mid_generate")
    return all(hasattr(mqtt.Client, name) for name in needed) and hasattr(mqtt, "mqtt_ms_wait_for_puback")


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class FastClient(mqtt.Client):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._no_refill = False
        self._fast_packets = 0
        # Called with (topic bytes, payload bytes, mid, qos) for QoS 0/1 PUBLISH packets (MQTT 3.1.1) instead of
        # building an MQTTMessage and matching per-topic callbacks; None keeps paho's own handling.
        self.on_raw_publish: Callable[[bytes, bytes, int, int], None] | None = None
        # Called with the packet id of each PUBACK (MQTT 3.1.1, no paho window) instead of on_publish.
        self.on_raw_puback: Callable[[int], None] | None = None

    # -- reads -------------------------------------------------------------------------------------------------------
    def _sock_recv(self, bufsize: int) -> bytes:
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            if self._no_refill:
                raise BlockingIOError
            data = super()._sock_recv(READ_CHUNK)  # raises BlockingIOError when nothing is there
            if len(data) <= bufsize:
                self._rbuf, self._rpos = b"", 0
                return data  # also b"" = connection closed
            buf, pos = data, 0
            self._rbuf = data
        end = pos + bufsize
        self._rpos = end
        return buf[pos:end]  # a read position, not del buf[:n]: no memmove of the rest per packet

    def _packet_read(self) -> mqtt.MQTTErrorCode:
        """Complete PUBLISH (QoS 0/1) and PUBACK packets already in the buffer are handled right here, without
        paho's byte-at-a-time state machine; everything else (and any packet split across reads) goes to paho."""
        if self._in_packet["command"] == 0 and self._protocol != mqtt.MQTTv5:
            buf, pos = self._rbuf, self._rpos
            size = len(buf)
            if pos + 2 <= size:
                cmd = buf[pos]
                kind = cmd & 0xF0
                publish = kind == 0x30 and (cmd & 0x06) != 0x04 and self.on_raw_publish is not None
                puback = kind == 0x40 and self.on_raw_puback is not None and self._max_inflight_messages == 0
                if publish or puback:
                    length, mult, i = 0, 1, pos + 1
                    while i < size and i - pos <= 4:
                        byte = buf[i]
                        length += (byte & 127) * mult
                        mult *= 128
                        i += 1
                        if not byte & 128:
                            end = i + length
                            if end <= size:
                                self._rpos = end
                                self._fast_packets += 1
                                return self._fast_publish(cmd, buf, i, end) if publish else \
                                    self._fast_puback((buf[i] << 8) | buf[i + 1])
                            break
        return super()._packet_read()

    def _fast_publish(self, cmd: int, buf: bytes, start: int, end: int) -> mqtt.MQTTErrorCode:
        qos = (cmd & 0x06) >> 1
        n = (buf[start] << 8) | buf[start + 1]
        topic_end = start + 2 + n
        topic = buf[start + 2:topic_end]
        if qos:
            mid = (buf[topic_end] << 8) | buf[topic_end + 1]
            payload = buf[topic_end + 2:end]
        else:
            mid, payload = 0, buf[topic_end:end]
        self.on_raw_publish(topic, payload, mid, qos)  # type: ignore[misc]
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return mqtt.MQTT_ERR_SUCCESS

    def _fast_puback(self, mid: int) -> mqtt.MQTTErrorCode:
        with self._out_message_mutex:
            msg = self._out_messages.pop(mid, None)
            if msg is None:
                return mqtt.MQTT_ERR_SUCCESS
            self._inflight_messages -= 1
        msg.info._set_as_published()
        self.on_raw_puback(mid)  # type: ignore[misc]
        return mqtt.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        handler = self.on_raw_publish
        command = self._in_packet["command"]
        qos = (command & 0x06) >> 1
        if handler is None or qos == 2 or self._protocol == mqtt.MQTTv5:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        n = (packet[0] << 8) | packet[1]
        topic = bytes(packet[2:2 + n])
        if qos:
            mid = (packet[2 + n] << 8) | packet[3 + n]
            payload = bytes(packet[4 + n:])
        else:
            mid, payload = 0, bytes(packet[2 + n:])
        handler(topic, payload, mid, qos)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return mqtt.MQTT_ERR_SUCCESS

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        if self._sock is None:
            return mqtt.MQTT_ERR_NO_CONN
        try:
            for k in range(READ_BURST + READ_CHUNK):
                if self._sock is None:
                    return mqtt.MQTT_ERR_NO_CONN
                # After READ_BURST packets only what is already buffered is handled: paho's select() cannot see our
                # buffer, so it must be empty (or end in a packet whose rest is still in the socket) on return.
                self._no_refill = k >= READ_BURST
                rc = self._packet_read()
                if rc > 0:
                    return self._loop_rc_handle(rc)
                if rc == mqtt.MQTT_ERR_AGAIN:
                    return mqtt.MQTT_ERR_SUCCESS
        finally:
            self._no_refill = False
            if self._fast_packets:
                # Packets handled on the fast path count for keepalive like paho's own reads.
                self._fast_packets = 0
                with self._msgtime_mutex:
                    self._last_bytes_received = mqtt.time_func()
        return mqtt.MQTT_ERR_SUCCESS

    def reconnect(self) -> mqtt.MQTTErrorCode:
        self._rbuf, self._rpos = b"", 0  # bytes of the previous connection are meaningless now
        return super().reconnect()

    def _handle_pubackcomp(self, cmd) -> mqtt.MQTTErrorCode:  # type: ignore[no-untyped-def]
        handler = self.on_raw_puback
        if (cmd != "PUBACK" or handler is None or self._protocol == mqtt.MQTTv5
                or self._max_inflight_messages > 0):
            return super()._handle_pubackcomp(cmd)
        packet = self._in_packet["packet"]
        mid = (packet[0] << 8) | packet[1]
        with self._out_message_mutex:
            msg = self._out_messages.pop(mid, None)
            if msg is None:
                return mqtt.MQTT_ERR_SUCCESS
            self._inflight_messages -= 1
        msg.info._set_as_published()
        handler(mid)
        return mqtt.MQTT_ERR_SUCCESS

    # -- writes ------------------------------------------------------------------------------------------------------
    def ack_many(self, mids: Iterable[int]) -> mqtt.MQTTErrorCode:
        """Acknowledge QoS 1 messages (``manual_ack``) with one write."""
        packet = b"".join(_PUBACK_MID.pack(_PUBACK, 2, mid) for mid in mids)
        if not packet:
            return mqtt.MQTT_ERR_SUCCESS
        if self._sock is None:
            return mqtt.MQTT_ERR_NO_CONN
        return self._packet_queue(_PUBACK, packet, 0, 0)

    def publish_many(self, items: Iterable[tuple[str, bytes]]) -> int:
        """Publish ``(topic, payload)`` pairs at QoS 1 as one write; returns how many were queued.

        Requires ``max_inflight_messages_set(0)`` (no paho window): each message is registered in paho's outgoing
        store, so on_publish fires per PUBACK and a reconnect retransmits what was not acknowledged.
        """
        if self._max_inflight_messages != 0:
            raise RuntimeError("publish_many needs max_inflight_messages_set(0)")
        packets = bytearray()
        count = 0
        now = time.monotonic()
        with self._out_message_mutex:
            connected = self._sock is not None
            for topic, payload in items:
                topic_bytes = topic.encode()
                mid = self._mid_generate()
                if mid in self._out_messages:
                    raise RuntimeError("more than 65535 messages unacknowledged")
                msg = mqtt.MQTTMessage(mid, topic_bytes)
                msg.timestamp = now
                msg.payload = payload
                msg.qos = 1
                self._out_messages[mid] = msg
                if connected:
                    self._inflight_messages += 1
                    msg.state = mqtt.mqtt_ms_wait_for_puback
                    packets += bytes((_PUBLISH_QOS1,))
                    packets += _remaining_length(4 + len(topic_bytes) + len(payload))
                    packets += struct.pack("!H", len(topic_bytes))
                    packets += topic_bytes
                    packets += struct.pack("!H", mid)
                    packets += payload
                else:
                    msg.state = mqtt.mqtt_ms_publish  # sent on reconnect, like paho's publish() while offline
                count += 1
            if connected and packets:
                self._packet_queue(_PUBLISH_QOS1 & 0xF0 | 0x02, packets, 0, 1)
        return count
