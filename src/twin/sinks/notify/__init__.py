"""``--notify FILE``: alarm transitions sent to webhooks, e-mail and commands.

The package's modules: :mod:`~twin.sinks.notify.options` (the ``--notify`` file and
its checks), :mod:`~twin.sinks.notify.notifier` (transitions to events),
:mod:`~twin.sinks.notify.payload` (the JSON body and its signature) and
:mod:`~twin.sinks.notify.delivery` (each target's queue, thread and retries). The names
the rest of twin uses are imported here: ``from twin.sinks.notify import Notifier``.

The alarm engine calls :meth:`Notifier.transition` on every change of an alarm's
state (:attr:`twin.live.alarms.AlarmEngine.listeners`); :meth:`Notifier.tick`
(after each evaluation, on the feeder's thread) turns them into events:

``raise``     the alarm is annunciated (``unacked``), after ``group_wait_s`` so that a
              consequence polled a moment before its first-out is known as one
``clear``     the condition returned to normal; sent only for an alarm whose raise was
              sent, so every incident a receiver opened is closed
``escalate``  still unacknowledged ``escalate_after_s`` after its raise, or its
              priority went up (a system alarm)

What is *not* sent: a shelved, suppressed or out-of-service alarm (those states
annunciate nothing, and a raise still waiting when its alarm is shelved is dropped);
a consequence annunciated under a first-out (``consequences = false``, the default:
the first-out's payload counts them); alarms below ``min_priority``; raises and
escalations past the per-alarm rate limit (counted, logged).

Deliveries never run on the poll loop or the feeder's thread: each target has its
own bounded queue and thread. A full queue drops the event, counts it and raises
the system alarm ``notify-queue-full`` (the enqueue never blocks); a target that
gave up after its retries raises ``notify-failed`` until a delivery succeeds.
Secrets (webhook HMAC keys, SMTP passwords) come from a file or an environment
variable the config names, never the config itself or the command line, and never
reach a log. The payload and the configuration: ``docs/notifications.md``.
"""

from twin.sinks.notify.delivery import DeliveryError
from twin.sinks.notify.notifier import Notifier
from twin.sinks.notify.options import (
    EVENTS,
    CommandTarget,
    EmailTarget,
    NotifyOptions,
    Retry,
    Target,
    WebhookTarget,
    add_notify_option,
    load_notify,
    parse_notify,
)
from twin.sinks.notify.payload import PAYLOAD_VERSION, SIGNATURE_HEADER, payload, sign, verify

__all__ = [
    "EVENTS",
    "PAYLOAD_VERSION",
    "SIGNATURE_HEADER",
    "CommandTarget",
    "DeliveryError",
    "EmailTarget",
    "Notifier",
    "NotifyOptions",
    "Retry",
    "Target",
    "WebhookTarget",
    "add_notify_option",
    "load_notify",
    "parse_notify",
    "payload",
    "sign",
    "verify",
]
