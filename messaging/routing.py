"""Who is told what, by which channel, and when: pure rules over an event and the contacts.

- The customer's preference picks the channels (sms, email, both, none); a customer who chose
  e-mail but has no address gets SMS, and one without a mobile gets e-mail.
- A CPAS that registered a number or address also receives its residents' serious events.
- Quiet hours (default 21:00–08:00, Europe/Brussels): informative messages wait for the morning;
  serious ones go at once, and so does the confirmation of the customer's own top-up.
- An event older than a day is history by the time it would arrive: nobody is told.
- What the customer asked for on the balance line (menu 4), or changed there (menu 5, the
  low-credit alert), or by SMS (ledger/replies.py), is one SMS to the mobile on file (or, for a
  number on file of no meter, to that number: the help message), in the asker's language, at
  once — even to a number that answered STOP, since it asked.
- A number that answered STOP gets no other SMS; a customer who chose e-mail too keeps it.
- The installation's reminders go to the appointment's number (48 hours before, held by quiet
  hours; 15 minutes before, at once), the survey to the mobile on file 20 days after.
- A message not yet sent about the account's state is overtaken by any later event of that
  account (it would arrive saying what is no longer so); a receipt and the welcome never are.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from ledger import BRUSSELS, Audience, Contacts, Event, MessageChannel, NewMessage
from ledger.domain import Notify

# Sent at once, day or night, and to the CPAS too.
SERIOUS_EVENTS = frozenset({"EmergencyCreditStarted", "DisconnectionPending", "Disconnected",
                            "PowerLimited"})
# Asked for by the customer (the balance line's menu 4): one SMS, to the mobile on file, now, in
# the language of the call; no e-mail, no CPAS copy.
ON_REQUEST_EVENTS = frozenset({"BalanceRequested", "AlertsChanged"})
# The answers to an SMS the customer sent (ledger/replies.py), by SMS too, in its language.
REPLY_EVENTS = frozenset({"SmsStopped", "SmsRestarted", "HelpSent", "SurveyAnswered"})
# What a number asked for itself: sent to it even after it answered STOP.
ANSWERS = ON_REQUEST_EVENTS | REPLY_EVENTS
# The installation journey (seed 003): reminders before the technician's visit, the survey after.
APPOINTMENT_EVENTS = frozenset({"InstallationReminder", "InstallationImminent"})
JOURNEY_EVENTS = APPOINTMENT_EVENTS | {"SurveyAsked"}
SMS_ONLY_EVENTS = ANSWERS | JOURNEY_EVENTS
# Events nobody is told of: they only make queued messages stale.
SILENT_EVENTS = frozenset({"AppointmentChanged"})
# To a CPAS only, by e-mail: its morning list (ledger/morning.py).
CPAS_LIST_EVENTS = frozenset({"CpasDailyList"})
# Good news that restores supply is not held back either, nor the receipt of a payment: the
# customer who just paid, at night too, is waiting to know the money arrived; nor what the
# customer just asked for; nor the technician at the door in a quarter of an hour. The 48-hour
# reminder and the survey wait for the morning.
AT_ONCE_EVENTS = (SERIOUS_EVENTS | {"ReconnectionAllowed", "TopUpReceived", "InstallationImminent"}
                  | ANSWERS)
STALE_AFTER = timedelta(days=1)
# News that stays true whatever happens next.
NEVER_OVERTAKEN = frozenset({"PrepaymentActivated", "TopUpReceived"})
# Events that say nothing of the account's state: they overtake no message about it, and no
# message about the state overtakes theirs.
NOT_ABOUT_STATE = REPLY_EVENTS | JOURNEY_EVENTS | SILENT_EVENTS | CPAS_LIST_EVENTS


def message_channels(event_name: str) -> dict[str, tuple[str, ...]]:
    """Who may be told of an event of this name, and by which channels: the messages that
    exist (the templates: messaging/render.py)."""
    if event_name in SILENT_EVENTS:
        return {}
    if event_name in CPAS_LIST_EVENTS:
        return {Audience.CPAS: (MessageChannel.EMAIL,)}
    both = (MessageChannel.SMS, MessageChannel.EMAIL)
    told = {Audience.CUSTOMER: (MessageChannel.SMS,) if event_name in SMS_ONLY_EVENTS else both}
    if event_name in SERIOUS_EVENTS:
        told[Audience.CPAS] = both
    return told


def overtaken(later: Event, earlier_name: str) -> bool:
    """Whether a queued message about an earlier event (named so) is stale once `later` is:
    low credit once the meter is cut or pending, a disconnection warning once a top-up avoided
    it, emergency credit once reconnected — any later word on the account's state; an
    installation reminder once the appointment moved, or once the quarter-of-an-hour one is due."""
    if earlier_name in APPOINTMENT_EVENTS:
        return later.name == "AppointmentChanged" or (
            earlier_name == "InstallationReminder" and later.name == "InstallationImminent")
    if later.name in NOT_ABOUT_STATE or earlier_name in NOT_ABOUT_STATE:
        return False
    return earlier_name not in NEVER_OVERTAKEN


@dataclass(frozen=True)
class QuietHours:
    start: time = time(21, 0)
    end: time = time(8, 0)

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours must start and end at different times")

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(BRUSSELS).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def end_after(self, moment: datetime) -> datetime:
        """When the quiet hours around `moment` end (`moment` itself when they are not on)."""
        if not self.contains(moment):
            return moment
        local = moment.astimezone(BRUSSELS)
        day = local.date() if local.time() < self.end else local.date() + timedelta(days=1)
        # Built from the wall clock of that day, so a change to or from summer time is right.
        return datetime.combine(day, self.end, tzinfo=BRUSSELS)


def channels_for(contacts: Contacts) -> list[tuple[str, str]]:
    """The customer's (channel, address) pairs, by preference and what is on file."""
    sms, email = MessageChannel.SMS, MessageChannel.EMAIL
    wanted = {Notify.SMS: [sms], Notify.EMAIL: [email], Notify.SMS_AND_EMAIL: [sms, email],
              Notify.NONE: []}[contacts.notify]
    # A number that answered STOP gets no SMS, and no e-mail it did not choose instead.
    available = {sms: None if contacts.sms_stopped else contacts.mobile, email: contacts.email}
    chosen = [(channel, available[channel]) for channel in wanted if available[channel]]
    if wanted and not chosen and not contacts.sms_stopped:
        # The chosen channel has no address: the other one, if any.
        other = email if wanted == [sms] else sms
        if available[other]:
            chosen = [(other, available[other])]
    return chosen


@dataclass(frozen=True)
class Router:
    quiet_hours: QuietHours | None = QuietHours()

    def due(self, event_name: str, audience: str, moment: datetime) -> datetime:
        """When a message may go out, from `moment` on: an informative one (low credit, a
        welcome) to a customer waits for the end of quiet hours; the rest go at once."""
        if audience == Audience.CUSTOMER and event_name not in AT_ONCE_EVENTS and self.quiet_hours:
            return self.quiet_hours.end_after(moment)
        return moment

    def plan(self, event: Event, contacts: Contacts | None, now: datetime
             ) -> Iterator[NewMessage]:
        if now - event.at > STALE_AFTER or event.name in SILENT_EVENTS:
            return
        if contacts is None:  # an event of no account: to the address it names
            if event.name in CPAS_LIST_EVENTS:
                yield NewMessage(Audience.CPAS, MessageChannel.EMAIL, event.to, event.language,
                                 now)
            else:
                yield NewMessage(Audience.CUSTOMER, MessageChannel.SMS, event.to, event.language,
                                 self.due(event.name, Audience.CUSTOMER, now))
            return
        if event.name in SMS_ONLY_EVENTS:
            if contacts.mobile and (event.name in ANSWERS or not contacts.sms_stopped):
                yield NewMessage(Audience.CUSTOMER, MessageChannel.SMS, contacts.mobile,
                                 event.language, self.due(event.name, Audience.CUSTOMER, now))
            return
        not_before = self.due(event.name, Audience.CUSTOMER, now)
        for channel, address in channels_for(contacts):
            yield NewMessage(Audience.CUSTOMER, channel, address, contacts.language, not_before)
        cpas = contacts.cpas
        if cpas and event.name in SERIOUS_EVENTS:
            for channel, address in (("sms", cpas.mobile), ("email", cpas.email)):
                if address:
                    yield NewMessage(Audience.CPAS, channel, address, cpas.language, now)
