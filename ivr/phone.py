"""A phone in the terminal: calls a running server's /voice as Twilio would, without Twilio.

Every webhook request is form-encoded and signed exactly as Twilio signs it (the twilio
library's RequestValidator under the auth token, over the *public* URL the server is configured
with), and the TwiML answers are followed with Twilio's semantics for <Say>, <Gather> (dtmf),
<Redirect>, <Pause>, <Dial> and <Hangup>; the end of a document ends the call.

    phone = Phone("http://127.0.0.1:8080", auth_token=token,
                  public_base_url="https://saldo.example.be",
                  keypad=keys("1", "541440000000000017#"), hear=print_say)
    transcript = await phone.call()     # [("say", "nl-BE", "..."), ("gather", "..."), ...]

The transcript is a list of events:
    ("say", language, text)   something said (also passed to `hear(text, language, voice)`)
    ("gather", prompt)        a <Gather> waits for keys; prompt = what it said, joined
    ("digits", digits)        the keys it got, without finishOnKey ('' = silence/timeout)
    ("speech", words)         words instead of keys, where the <Gather> listens for speech (an
                              entry with a letter in it): sent as Twilio's SpeechResult
    ("dial", number, keys)    a <Dial> to a <Number> (its sendDigits); `transfer(number)` says
                              how that call ended (Twilio's DialCallStatus: "completed" unless
                              told otherwise), posted to the <Dial>'s action if it has one
    ("hangup",)               the call ended (<Hangup> or the end of a document)
<Pause> waits for nobody and leaves no event.
"""

import inspect
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import aiohttp
from twilio.request_validator import RequestValidator

from webhooks import SIGNATURE_HEADER

DEFAULT_CALLER = "+32470000000"
BALANCE_LINE = "+3280092424"
DEFAULT_LANGUAGE = "en-US"  # Twilio's default for <Say>
MAX_STEPS = 100

Keypad = Callable[[str], "str | Awaitable[str]"]
Hear = Callable[[str, str, "str | None"], "None | Awaitable[None]"]
Transfer = Callable[[str], "str | Awaitable[str]"]  # the number dialled → DialCallStatus


class PhoneError(Exception):
    """The call could not go on: an HTTP error (status set), bad TwiML, a loop, no more keys."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def keys(*entries: str) -> Keypad:
    """A scripted keypad: answers each <Gather> with the next entry ('' is silence)."""
    remaining = list(entries)

    def keypad(prompt: str) -> str:
        if not remaining:
            raise PhoneError(f"the keypad has no more keys for: {prompt!r}")
        return remaining.pop(0)

    return keypad


def _silence(prompt: str) -> str:
    return ""


async def _maybe_await(value):
    return await value if inspect.isawaitable(value) else value


def _text(element: ET.Element) -> str:
    """The text of a verb, SSML children included, with whitespace collapsed."""
    return re.sub(r"\s+", " ", "".join(element.itertext())).strip()


def _method(element: ET.Element) -> str:
    method = element.get("method", "POST").upper()
    if method not in ("GET", "POST"):
        raise PhoneError(f"<{element.tag}> has method {method!r}, not GET or POST")
    return method


def _entered(keys_pressed: str, num_digits: int | None, finish_on_key: str) -> str:
    """What Twilio submits of the keys pressed: up to finishOnKey (not included) or numDigits."""
    digits = ""
    for key in keys_pressed:
        if finish_on_key and key == finish_on_key:
            break
        if key not in "0123456789*#":
            raise PhoneError(f"{key!r} is not a key on a phone keypad")
        digits += key
        if num_digits is not None and len(digits) >= num_digits:
            break
    return digits


class Phone:
    """One caller. `call()` places a call and returns its transcript (also kept in .transcript)."""

    def __init__(self, base_url: str, *, auth_token: str, public_base_url: str | None = None,
                 caller: str = DEFAULT_CALLER, called: str = BALANCE_LINE,
                 keypad: Keypad | None = None, hear: Hear | None = None,
                 transfer: Transfer | None = None, max_steps: int = MAX_STEPS):
        self.base_url = base_url.rstrip("/")
        self.public_base_url = (public_base_url or base_url).rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.caller = caller
        self.called = called
        self.keypad = keypad or _silence
        self.hear = hear
        self.transfer = transfer or (lambda number: "completed")
        self.max_steps = max_steps
        self.account_sid = "AC" + secrets.token_hex(16)
        self.transcript: list[tuple] = []

    async def call(self, path: str = "/voice") -> list[tuple]:
        self.transcript = []
        call_sid = "CA" + secrets.token_hex(16)
        url, method, extra = self.public_base_url + path, "POST", {}
        async with aiohttp.ClientSession() as session:
            for _ in range(self.max_steps):
                params = {**self._params(call_sid), **extra}
                document = await self._fetch(session, url, method, params)
                step = await self._follow(document, url)
                if step is None:
                    self.transcript.append(("hangup",))
                    return self.transcript
                url, method, extra = step
        raise PhoneError(f"the call went on for more than {self.max_steps} requests; a loop?")

    def _params(self, call_sid: str) -> dict[str, str]:
        return {"CallSid": call_sid, "AccountSid": self.account_sid, "From": self.caller,
                "To": self.called, "Direction": "inbound", "CallStatus": "in-progress",
                "ApiVersion": "2010-04-01"}

    def _local(self, public: str) -> str:
        """Where to send a request for a public URL: the same path under base_url."""
        if public == self.public_base_url or public.startswith(self.public_base_url + "/") \
                or public.startswith(self.public_base_url + "?"):
            return self.base_url + public[len(self.public_base_url):]
        return public  # elsewhere: called as is, like Twilio would

    async def _fetch(self, session: aiohttp.ClientSession, url: str, method: str,
                     params: dict[str, str]) -> ET.Element:
        if method == "GET":  # Twilio appends the parameters to the query and signs that URL
            parts = urlsplit(url)
            query = urlencode(parse_qsl(parts.query, keep_blank_values=True) + list(params.items()))
            url, data, signed = urlunsplit(parts._replace(query=query)), None, {}
        else:
            data, signed = params, params
        headers = {SIGNATURE_HEADER: self.validator.compute_signature(url, signed)}
        async with session.request(method, self._local(url), data=data, headers=headers,
                                   allow_redirects=False) as answer:
            body = await answer.text()
            if answer.status != 200:
                raise PhoneError(f"{method} {url} answered {answer.status}: {body[:200]}",
                                 status=answer.status)
        try:
            root = ET.fromstring(body)
        except ET.ParseError as error:
            raise PhoneError(f"{method} {url} answered no valid TwiML ({error}): {body[:200]}")
        if root.tag != "Response":
            raise PhoneError(f"{method} {url} answered <{root.tag}>, not <Response>")
        return root

    async def _follow(self, document: ET.Element, url: str):
        """Run one TwiML document. Returns the next request (url, method, extra params), or None
        when the call ends."""
        for verb in document:
            if verb.tag == "Say":
                await self._say(verb)
            elif verb.tag == "Pause":
                pass
            elif verb.tag == "Hangup":
                return None
            elif verb.tag == "Redirect":
                target = _text(verb)
                if not target:
                    raise PhoneError("<Redirect> without a URL")
                return urljoin(url, target), _method(verb), {}
            elif verb.tag == "Gather":
                step = await self._gather(verb, url)
                if step is not None:
                    return step
            elif verb.tag == "Dial":
                step = await self._dial(verb, url)
                if step is not None:
                    return step
            else:
                raise PhoneError(f"<{verb.tag}> is not a verb this phone knows")
        return None

    async def _say(self, verb: ET.Element) -> str:
        text = _text(verb)
        language = verb.get("language", DEFAULT_LANGUAGE)
        voice = verb.get("voice")
        loop = int(verb.get("loop", "1") or 1)
        for _ in range(max(loop, 1)):
            self.transcript.append(("say", language, text))
            if self.hear is not None:
                await _maybe_await(self.hear(text, language, voice))
        return text

    async def _dial(self, verb: ET.Element, url: str):
        numbers = [nested for nested in verb if nested.tag == "Number"]
        if len(numbers) != 1 or len(verb) != 1:
            raise PhoneError("<Dial> here holds one <Number> and nothing else")
        number = _text(numbers[0])
        self.transcript.append(("dial", number, numbers[0].get("sendDigits", "")))
        status = await _maybe_await(self.transfer(number))
        if verb.get("action"):
            return urljoin(url, verb.get("action")), _method(verb), {"DialCallStatus": status}
        return None  # no action: Twilio goes on with the verb after the <Dial>

    async def _gather(self, verb: ET.Element, url: str):
        inputs = verb.get("input", "dtmf").split()
        if "dtmf" not in inputs:
            raise PhoneError(f"<Gather input={verb.get('input')!r}>: this phone needs keys too")
        said = []
        for nested in verb:
            if nested.tag == "Say":
                said.append(await self._say(nested))
            elif nested.tag != "Pause":
                raise PhoneError(f"<{nested.tag}> inside <Gather> is not supported here")
        prompt = " ".join(said)
        num_digits = int(verb.get("numDigits")) if verb.get("numDigits") else None
        finish_on_key = verb.get("finishOnKey", "#")
        self.transcript.append(("gather", prompt))
        pressed = await _maybe_await(self.keypad(prompt))
        if "speech" in inputs and re.search(r"[^\W\d_]", pressed or ""):  # words: said
            self.transcript.append(("speech", pressed))
            return (urljoin(url, verb.get("action") or url), _method(verb),
                    {"SpeechResult": pressed, "Confidence": "0.9"})
        digits = _entered(pressed or "", num_digits, finish_on_key)
        self.transcript.append(("digits", digits))
        if not digits and verb.get("actionOnEmptyResult", "false").lower() != "true":
            return None  # silence: Twilio goes on with the verb after the <Gather>
        return urljoin(url, verb.get("action") or url), _method(verb), {"Digits": digits}
