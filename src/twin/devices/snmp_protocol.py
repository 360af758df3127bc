"""The two places the SNMP agents change pysnmp's own behaviour (pysnmp 7.1).

- :class:`BulkResponder`: GETBULK stops at the end of the MIB view instead of
  filling every repetition with ``endOfMibView``;
- :class:`GuardedUdp`: the agent's socket, where a datagram pysnmp raises on is a
  rate-limited warning, not a traceback.
"""

from __future__ import annotations

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity.rfc3413 import cmdrsp
from pysnmp.proto import rfc1905
from pysnmp.smi import error as smi_error

from twin.devices.modbus_guard import RateLimitedLog


class BulkResponder(cmdrsp.BulkCommandResponder):
    """GETBULK that stops repeating once every repeated variable is past the end.

    pysnmp's responder fills all ``max-repetitions`` even after the end of the MIB,
    so a walk's last reply carried rows of ``endOfMibView`` that net-snmp prints one
    by one; net-snmp's own agent, like RFC 3416 §4.2.3 allows, stops there.
    """

    def handle_management_operation(self, snmpEngine, stateReference, contextName, PDU):
        api = cmdrsp.v2c.apiBulkPDU
        non_repeaters = max(int(api.get_non_repeaters(PDU)), 0)
        repetitions = max(int(api.get_max_repetitions(PDU)), 0)
        requested = cmdrsp.v2c.apiPDU.get_varbinds(PDU)
        n = min(non_repeaters, len(requested))
        r = max(len(requested) - n, 0)
        if r:
            repetitions = min(repetitions, self.max_varbinds // r)
        read_next = self.snmpContext.get_mib_instrum(contextName).read_next_variables
        ctx = dict(snmpEngine=snmpEngine, acFun=self.verify_access, cbCtx=self.cbCtx)
        reply = read_next(*requested[:n], **ctx) if n else []
        current = requested[n:]
        while repetitions and r:
            current = read_next(*current, **ctx)
            reply.extend(current)
            if all(value is rfc1905.endOfMibView for _, value in current):
                break
            repetitions -= 1
        if not reply:
            raise smi_error.SmiError()
        self.send_varbinds(snmpEngine, stateReference, 0, 0, reply)
        self.release_state_information(stateReference)


class GuardedUdp(udp.UdpAsyncioTransport):
    """The agent's UDP socket: a datagram pysnmp cannot handle is a counted warning.

    pysnmp's decoder raises on some malformed BER (a TypeError deep in pyasn1 for a
    constructed type where a primitive was expected), which asyncio reports as an
    "Exception in callback" traceback for every such datagram: a flood of them must
    not flood the log. Reported per peer and kind, one line a minute
    (:class:`~twin.devices.modbus_guard.RateLimitedLog`).
    """

    problems: RateLimitedLog
    where = "SNMP agent"

    def datagram_received(self, datagram, transportAddress) -> None:
        if self._callback_function is not None:
            self.loop.call_soon(self._handle, transportAddress, datagram)

    def _handle(self, address, datagram) -> None:
        try:
            self._callback_function(self, address, datagram)
        except Exception as error:  # whatever the datagram made pysnmp raise
            peer = str(address[0]) if address else "?"
            self.problems.report(self.where, peer, "undecodable datagram",
                                 f"{type(error).__name__}: {error}"[:200])  # fmt: skip
