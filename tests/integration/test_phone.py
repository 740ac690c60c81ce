"""The phone in the terminal follows TwiML as Twilio does, with requests signed as Twilio signs."""

import re

import pytest
from aiohttp import web

from ivr.phone import Phone, PhoneError, keys
from webhooks.signature import signature_middleware

from tests.browser import logged_server

TOKEN = "made-up-auth-token-for-tests"
PUBLIC = "https://saldo.example.be"  # what the server is configured with; it listens elsewhere
SEEN = web.AppKey("seen", list)


def twiml(body: str) -> web.Response:
    return web.Response(text=f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
                        content_type="text/xml")


async def voice(request: web.Request) -> web.Response:
    return twiml('<Say language="nl-BE" voice="Polly.Lotte">Welkom bij Saldo.</Say>'
                 '<Gather numDigits="1" action="/voice/language" timeout="5">'
                 '<Say language="nl-BE">Kies 1 voor Nederlands,</Say>'
                 '<Say language="fr-BE">2 pour le français.</Say>'
                 '</Gather>'
                 '<Say language="nl-BE">Geen keuze.</Say>'
                 '<Redirect>/voice/bye</Redirect>')


async def language(request: web.Request) -> web.Response:
    form = await request.post()
    lang = {"1": "nl", "2": "fr"}.get(form["Digits"])
    if lang is None:
        return twiml('<Redirect method="POST">/voice</Redirect>')
    return twiml(f'<Gather action="ean?lang={lang}" actionOnEmptyResult="true">'
                 f'<Say language="{lang}-BE">Code?</Say></Gather>'
                 '<Say>never said</Say>')


async def ean(request: web.Request) -> web.Response:
    digits = (await request.post())["Digits"]
    lang = request.query["lang"]
    if not digits:
        return twiml(f'<Say language="{lang}-BE">Rien.</Say><Hangup/>')
    return twiml(f'<Say language="{lang}-BE">Code <say-as interpret-as="digits">{digits}'
                 '</say-as>.</Say><Pause length="1"/><Hangup/><Say>after hangup</Say>')


async def bye(request: web.Request) -> web.Response:
    return twiml('<Say language="nl-BE">Tot ziens.</Say>')


async def loop(request: web.Request) -> web.Response:
    return twiml("<Redirect>loop</Redirect>")


@pytest.fixture
async def server():
    seen: list[tuple[str, dict[str, str]]] = []

    @web.middleware
    async def record(request, handler):
        seen.append((str(request.rel_url), dict(await request.post())))
        return await handler(request)

    app = web.Application(middlewares=[signature_middleware(TOKEN, PUBLIC), record])
    app[SEEN] = seen
    app.router.add_post("/voice", voice)
    app.router.add_post("/voice/language", language)
    app.router.add_post("/voice/ean", ean)
    app.router.add_post("/voice/bye", bye)
    app.router.add_post("/voice/loop", loop)
    async with logged_server(app) as test_server:
        yield test_server


def phone(server, *entries, token=TOKEN, **kwargs) -> Phone:
    return Phone(str(server.make_url("")), public_base_url=PUBLIC, auth_token=token,
                 keypad=keys(*entries), **kwargs)


async def test_a_whole_call_is_followed_and_the_digits_reach_the_server(server):
    heard = []
    transcript = await phone(server, "2", "541448#", hear=lambda *said: heard.append(said)).call()
    assert transcript == [
        ("say", "nl-BE", "Welkom bij Saldo."),
        ("say", "nl-BE", "Kies 1 voor Nederlands,"),
        ("say", "fr-BE", "2 pour le français."),
        ("gather", "Kies 1 voor Nederlands, 2 pour le français."),
        ("digits", "2"),
        ("say", "fr-BE", "Code?"),
        ("gather", "Code?"),
        ("digits", "541448"),
        ("say", "fr-BE", "Code 541448."),
        ("hangup",),
    ]
    assert heard[0] == ("Welkom bij Saldo.", "nl-BE", "Polly.Lotte")
    assert heard[-1] == ("Code 541448.", "fr-BE", None)
    seen = server.app[SEEN]
    assert [path for path, _ in seen] == ["/voice", "/voice/language", "/voice/ean?lang=fr"]
    assert [form.get("Digits") for _, form in seen] == [None, "2", "541448"]


async def test_each_request_carries_twilios_parameters(server):
    await phone(server, "1", "12#", caller="+32470123456").call()
    forms = [form for _, form in server.app[SEEN]]
    assert len({form["CallSid"] for form in forms}) == 1
    for form in forms:
        assert re.fullmatch(r"CA[0-9a-f]{32}", form["CallSid"])
        assert re.fullmatch(r"AC[0-9a-f]{32}", form["AccountSid"])
        assert form["From"] == "+32470123456"
        assert form["To"] == "+3280092424"
        assert form["Direction"] == "inbound"
        assert form["CallStatus"] == "in-progress"
        assert form["ApiVersion"] == "2010-04-01"


async def test_num_digits_ends_the_gather_and_extra_keys_are_dropped(server):
    transcript = await phone(server, "19", "7").call()
    assert ("digits", "1") in transcript
    assert transcript[-2:] == [("say", "nl-BE", "Code 7."), ("hangup",)]


async def test_silence_goes_on_with_the_verb_after_the_gather(server):
    transcript = await phone(server, "").call()
    assert transcript[-4:] == [
        ("digits", ""),
        ("say", "nl-BE", "Geen keuze."),
        ("say", "nl-BE", "Tot ziens."),   # after <Redirect>, then the end of the document
        ("hangup",),
    ]
    assert [path for path, _ in server.app[SEEN]] == ["/voice", "/voice/bye"]


async def test_only_the_finish_key_is_silence_too(server):
    transcript = await phone(server, "#").call()
    assert ("say", "nl-BE", "Geen keuze.") in transcript


async def test_action_on_empty_result_posts_empty_digits(server):
    transcript = await phone(server, "1", "").call()
    assert transcript[-3:] == [("digits", ""), ("say", "nl-BE", "Rien."), ("hangup",)]
    path, form = server.app[SEEN][-1]
    assert (path, form["Digits"]) == ("/voice/ean?lang=nl", "")


async def test_a_redirect_back_starts_over(server):
    transcript = await phone(server, "9", "1", "5#").call()
    assert [event for event in transcript if event[0] == "digits"] == [
        ("digits", "9"), ("digits", "1"), ("digits", "5")]
    assert transcript.count(("say", "nl-BE", "Welkom bij Saldo.")) == 2


async def test_an_async_keypad_is_awaited(server):
    prompts = []

    async def keypad(prompt):
        prompts.append(prompt)
        return {"Code?": "42#"}.get(prompt, "1")

    transcript = await Phone(str(server.make_url("")), public_base_url=PUBLIC,
                             auth_token=TOKEN, keypad=keypad).call()
    assert prompts == ["Kies 1 voor Nederlands, 2 pour le français.", "Code?"]
    assert transcript[-2] == ("say", "nl-BE", "Code 42.")


async def test_a_wrong_auth_token_gets_403(server):
    with pytest.raises(PhoneError) as raised:
        await phone(server, "1", token="another-token").call()
    assert raised.value.status == 403
    assert "403" in str(raised.value)


async def test_signing_the_local_url_instead_of_the_public_one_gets_403(server):
    local = Phone(str(server.make_url("")), auth_token=TOKEN, keypad=keys("1"))
    with pytest.raises(PhoneError) as raised:
        await local.call()
    assert raised.value.status == 403


async def test_an_unknown_path_gets_the_status(server):
    with pytest.raises(PhoneError) as raised:
        await phone(server).call("/nowhere")
    assert raised.value.status in (403, 404, 405)


async def test_a_loop_is_stopped(server):
    with pytest.raises(PhoneError, match="more than 10 requests"):
        await phone(server, max_steps=10).call("/voice/loop")
