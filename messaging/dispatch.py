"""From ledger events to sent messages: queue them in the outbox, then send what is due.

Every outcome is written back (grouped: within RECORD_LINGER of the first of its group) before the
pass that sent it ends; nothing here swallows an error. An SMS tried before — its sender died mid-way
(`uncertain`), or a timeout or a 5xx left it unknown whether Twilio took it — is looked up at
Twilio before it is sent again; an e-mail is sent again with the same Message-ID (SMTP offers no
way to ask).
"""

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from ledger import (
    DEFAULT_LEASE,
    Audience,
    Clock,
    GaveUp,
    Ledger,
    OutboxMessage,
    Postponed,
    Retry,
    MessageChannel,
    Sent,
    Withheld,
)
from ledger.groupcommit import GroupCommit
from ledger.outbox import Outcome

from .errors import PermanentFailure, TemporaryFailure
from .pacing import Backoff, SendRate
from .render import Email, MessageTemplates
from .routing import ANSWERS, Router, overtaken

log = logging.getLogger("saldo.messaging")

# How long an outcome's write waits for others to join it: a write each ~2.6 outcomes had been a
# fifth of the worker's time (bench/notify.py), and a status shown a moment later changes nothing.
RECORD_LINGER = 0.02


class SmsSender(Protocol):
    async def send(self, to: str, body: str) -> str: ...

    async def find_sent(self, to: str, body: str, since) -> str | None: ...


class MailSender(Protocol):
    async def send(self, to: str, email: Email, *, outbox_id: int) -> str: ...


@dataclass(frozen=True)
class Pass:
    """What one pass of the worker did."""

    queued: int = 0
    sent: int = 0
    retried: int = 0
    gave_up: int = 0


class Dispatcher:
    def __init__(self, ledger: Ledger, templates: MessageTemplates, router: Router, *,
                 sms: SmsSender, mail: MailSender, sms_rate: SendRate, mail_rate: SendRate,
                 backoff: Backoff = Backoff(), clock: Clock | None = None,
                 rng: random.Random | None = None, batch: int = 200,
                 lease: timedelta = DEFAULT_LEASE):
        self.ledger = ledger
        self.templates = templates
        self.router = router
        self.sms, self.mail = sms, mail
        self.rates = {"sms": sms_rate, "email": mail_rate}
        self.backoff = backoff
        self.clock = clock or ledger.clock
        self.rng = rng or random.Random()
        self.batch = batch
        self.lease = lease
        self._outcomes = GroupCommit(ledger.outbox.record, linger=RECORD_LINGER)

    async def queue_events(self) -> int:
        """Every event not yet consumed becomes its messages."""
        total = 0
        while True:
            events, messages = await self.ledger.outbox.queue(
                lambda event, contacts: self.router.plan(event, contacts, self.clock.now()),
                overtaken=overtaken)
            total += messages
            if not events:
                return total

    async def send_due(self, stop: asyncio.Event | None = None) -> Pass:
        """Claims and sends batches until none is due — or, once `stop` is set (SIGTERM), after
        the batch in hand: what was claimed is finished and recorded, nothing more is claimed."""
        sent = retried = gave_up = 0
        # The next batch is claimed while this one's outcomes are still being recorded, unless
        # one gave up (its fall-back, queued as it is recorded, may be due now) or none is left
        # to claim. A failed record stops the pass; the pass ends once all are recorded.
        recording: list[asyncio.Future[None]] = []
        try:
            while not (stop and stop.is_set()):
                batch = await self.ledger.outbox.claim_due(self.batch_size(), self.lease)
                if not batch and not recording:
                    break
                stopped = await self._stopped(batch) if batch else set()
                # Each delivery adds its recording to the list as it starts it: should one
                # delivery raise, the others' are still waited for below.
                outcomes = await asyncio.gather(
                    *(self._deliver(m, m.id in stopped, recording) for m in batch))
                sent += sum(isinstance(x, Sent) for x in outcomes)
                retried += sum(isinstance(x, Retry) for x in outcomes)
                gave_up += sum(isinstance(x, GaveUp) for x in outcomes)
                if not batch or any(isinstance(x, GaveUp) for x in outcomes):
                    await _all_recorded(recording)
                    recording = []
                else:
                    _raise_failed(recording)
                    recording = [r for r in recording if not r.done()]
        except BaseException:
            await asyncio.gather(*recording, return_exceptions=True)  # none left behind
            raise
        await _all_recorded(recording)
        return Pass(sent=sent, retried=retried, gave_up=gave_up)

    def batch_size(self) -> int:
        """How many messages to claim at once: at most what the slowest pace sends in a quarter
        of the lease. Another worker takes over claims older than the lease (their worker is
        presumed dead), so a batch must be done well before then; claims are stored to the
        second, and each send takes its own time besides."""
        slowest = max(rate.interval for rate in self.rates.values())
        return max(1, min(self.batch, int(self.lease.total_seconds() / 4 / slowest)))

    async def run_once(self, stop: asyncio.Event | None = None) -> Pass:
        queued = await self.queue_events()
        done = await self.send_due(stop)
        return Pass(queued, done.sent, done.retried, done.gave_up)

    async def _stopped(self, batch: list[OutboxMessage]) -> set[int]:
        """The SMS of this batch to numbers that answered STOP since they were queued (the
        answers to what a number asked itself aside)."""
        subject = [m for m in batch if m.channel == MessageChannel.SMS
                   and m.audience == Audience.CUSTOMER and m.event.name not in ANSWERS]
        if not subject:
            return set()
        stopped = await self.ledger.replies.stopped([m.address for m in subject])
        return {m.id for m in subject if m.address in stopped}

    async def _deliver(self, message: OutboxMessage, stopped: bool,
                       recording: list[asyncio.Future[None]]) -> Outcome:
        """The message's outcome; its recording, under way, is added to `recording`."""
        now = self.clock.now()
        # Checked at the send too: a message queued at once (another channel's fall-back after a
        # failure report at night) still waits for the end of quiet hours.
        held_until = self.router.due(message.event.name, message.audience, now)
        try:
            if stopped:
                outcome = Withheld(message.id)
            elif held_until > now:
                outcome = Postponed(message.id, held_until)
            else:
                outcome = await self._attempt(message)
        except TemporaryFailure as failure:
            outcome = self._retry(message, failure.reason)
        except PermanentFailure as failure:
            outcome = GaveUp(message.id, failure.reason, undeliverable=True)
        except Exception:  # a bug (a template, say): logged, and tried again later
            log.exception("message %d: internal error", message.id)
            outcome = self._retry(message, "internal error (see the worker's log)")
        recording.append(asyncio.ensure_future(self._outcomes.add(outcome)))
        log.info("%s message %d (%s, %s): %s", message.channel, message.id, message.event.name,
                 message.audience, type(outcome).__name__.lower())
        return outcome

    async def _attempt(self, message: OutboxMessage) -> Sent:
        event, audience, language = message.event, message.audience, message.language
        if message.channel == "sms":
            body = self.templates.sms(event, audience=audience, language=language)
            # Its sender died, or an earlier try failed in a way that may have reached Twilio
            # (a timeout, a 5xx): did it go out before?
            if message.uncertain or message.attempts > 1:
                earlier = await self.sms.find_sent(message.address, body, message.created_at)
                if earlier:
                    return Sent(message.id, earlier)
            await self.rates["sms"].wait()
            return Sent(message.id, await self.sms.send(message.address, body))
        email = self.templates.email(event, audience=audience, language=language)
        await self.rates["email"].wait()
        return Sent(message.id, await self.mail.send(message.address, email,
                                                     outbox_id=message.id))

    def _retry(self, message: OutboxMessage, reason: str) -> Retry | GaveUp:
        if self.backoff.gives_up_after(message.attempts):
            return GaveUp(message.id, f"gave up after {message.attempts} attempts: {reason}",
                          undeliverable=False)
        not_before = self.clock.now() + self.backoff.delay(message.attempts, self.rng)
        return Retry(message.id, reason,
                     self.router.due(message.event.name, message.audience, not_before))


async def _all_recorded(recording: list[asyncio.Future[None]]) -> None:
    """Waits for every recording; raises the first that failed."""
    for result in await asyncio.gather(*recording, return_exceptions=True):
        if isinstance(result, BaseException):
            raise result


def _raise_failed(recording: list[asyncio.Future[None]]) -> None:
    for done in (r for r in recording if r.done() and not r.cancelled()):
        if (error := done.exception()) is not None:
            raise error
