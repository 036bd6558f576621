"""The status page: the packaged template filled with escaped values, and the SVG chart."""

from __future__ import annotations

import html
import importlib.resources
import re
import string
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
import trio
import trio.testing
from prometheus_client import CollectorRegistry

from trio_smartmeter.core.model import HalfHour, SessionState
from trio_smartmeter.core.state import ExporterState
from trio_smartmeter.link.timing import Timing
from trio_smartmeter.web.language import negotiate
from trio_smartmeter.web.page import status_page
from trio_smartmeter.web.router import ExporterApp
from trio_smartmeter.web.status import DAY_LOOKAROUND, PowerLog, status_dict
from trio_smartmeter.web.today import energy_today

from .helpers import PWD, RBID, UNIX, VERSION, Clock, call, connect, reading, setup

NBSP = "\N{NO-BREAK SPACE}"
NONE = "\N{EN DASH}"


class _Table(HTMLParser):
    """The page's ``<th>``/``<td>`` pairs and every text node, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self.text: list[str] = []
        self._cell: str | None = None
        self._th = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("th", "td"):
            self._cell = tag

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell == "th":
            self._th = data
        elif self._cell == "td":
            self.rows[self._th] = self.rows.get(self._th, "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._cell = None


def table(page: str) -> _Table:
    parser = _Table()
    parser.feed(page)
    parser.close()
    return parser


def page_of(state: ExporterState, now_monotonic: float, log: PowerLog | None = None) -> str:
    status = status_dict(
        state, log or PowerLog(), now_monotonic=now_monotonic, now_unix=UNIX, version=VERSION
    )
    return status_page(status, now_unix=UNIX).decode()


async def test_status_page() -> None:
    state, mono, _, app = setup()
    connect(state, mono)
    status, headers, body = await call(app, "/")
    assert status == 200
    assert headers[b"content-type"].startswith(b"text/html")
    page = body.decode()
    assert VERSION in page
    assert 'href="metrics"' in page
    assert "<svg" in page
    assert "<polyline" in page
    assert "http://" not in page
    assert "https://" not in page
    assert "1,400" in page  # current power
    assert "ready" in page
    assert "bp35c2" in page
    assert f"-62{NBSP}dBm" in page  # -61.5 rounded
    assert "0.90" in page  # energy today: 9 x 0.1 kWh
    for secret in (RBID, PWD):
        assert secret not in page


async def test_status_page_without_anything() -> None:
    *_, app = setup()
    status, _, body = await call(app, "/")
    assert status == 200
    assert b"no readings in the last hour" in body
    assert b"never" in body


def test_page_with_no_reading() -> None:
    page = page_of(ExporterState(interval=60.0), 5.0)
    parsed = table(page)
    assert parsed.rows == {
        "Link / session": "starting",
        "Module": NONE,
        "Current R / T": f"{NONE} / {NONE}",
        "Energy today (bought)": NONE,
        "Link quality": NONE,
        "Last reading": "never",
    }
    assert f'<p class="big bad">{NONE}</p>' in page
    assert "no fresh meter data" in parsed.text
    assert 'aria-label="no data"' in page
    assert '<meta http-equiv="refresh" content="60">' in page


def test_page_with_a_full_reading() -> None:
    state, mono = ExporterState(interval=5.0), Clock(100.0)
    page = page_of(state, 100.0, connect(state, mono))
    assert table(page).rows == {
        "Link / session": "connected to the meter (session up)",
        "Module": "bp35c2 firmware 1.2.10, dual-stack, binary",
        "Current R / T": f"12.3{NBSP}A / {NONE}",
        "Energy today (bought)": f"0.90{NBSP}kWh (since 00:50 JST)",
        "Link quality": f"-62{NBSP}dBm",
        "Last reading": "0 s ago",
    }
    assert f'<p class="big ok">1,400{NBSP}W</p>' in page
    assert '<p class="ok">meter data fresh</p>' in page
    assert page.count('class="dot"') == 10  # one per reading in the last hour
    assert '<meta http-equiv="refresh" content="10">' in page  # never faster than 10 s


def test_a_stale_reading_shows_no_values() -> None:
    state, mono = ExporterState(interval=60.0), Clock(100.0)
    log = PowerLog.following(state)
    state.record_reading(reading(mono.now, UNIX - 600), 1.0)
    state.set_credentials_latched(True)
    state.set_rate_limited(True)
    rows = table(page_of(state, 100.0 + 600, log)).rows
    assert rows["Current R / T"] == f"{NONE} / {NONE}"
    assert rows["Last reading"] == "600 s ago (stale)"
    assert rows["Link / session"] == "starting"
    page = page_of(state, 100.0 + 600, log)
    assert "Check SMARTMETER_ID and SMARTMETER_PASSWORD" in page  # the latch comes first


async def test_a_module_string_with_markup_comes_out_escaped() -> None:
    """The firmware string is read from the serial line: it must never become markup."""
    state, mono, _, app = setup()
    connect(state, mono, firmware='1.2.10<script>alert("x")</script>')
    page = (await call(app, "/"))[2].decode()
    assert "<script" not in page
    assert "1.2.10&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert table(page).rows["Module"] == (
        'bp35c2 firmware 1.2.10<script>alert("x")</script>, dual-stack, binary'
    )


def test_every_substituted_string_is_escaped() -> None:
    mark = '<i x="\'&">'
    state, mono = ExporterState(interval=60.0), Clock(100.0)
    log = connect(state, mono)
    status: dict[str, Any] = status_dict(
        state, log, now_monotonic=100.0, now_unix=UNIX, version=mark
    )
    status["session_state"] = mark
    status["module"] = dict.fromkeys(status["module"], mark)
    page = status_page(status, now_unix=UNIX).decode()
    assert "<i" not in page
    # version, session state, and the four module fields shown
    assert page.count(html.escape(mark)) == 6
    assert mark in "".join(table(page).text)


def test_the_template_is_packaged_and_fully_filled() -> None:
    resource = importlib.resources.files("trio_smartmeter.web").joinpath("status.html")
    template = string.Template(resource.read_text("utf-8"))
    assert template.is_valid()
    assert set(template.get_identifiers()) == {
        "lang",
        "refresh",
        "version",
        "tagline",
        "status_json",
        "ready",
        "problem_block",
        "th_link",
        "th_module",
        "th_currents",
        "th_energy_today",
        "th_link_quality",
        "th_last_reading",
        "h_power",
        "h_half_hours",
        "bill",
        "freshness_class",
        "power",
        "freshness",
        "link",
        "module",
        "currents",
        "energy_today",
        "link_quality",
        "last_reading",
        "power_chart",
        "half_hour_chart",
    }
    assert "$" not in page_of(ExporterState(interval=60.0), 5.0)


# -- the bar chart of the meter's half-hours ----------------------------------------------
MIDNIGHT = 1_764_082_800  # 2025-11-26 00:00 JST
KWH = Decimal(3_600_000)


def register(end: int, kwh: str) -> HalfHour:
    """A stored slot whose forward register reads ``kwh`` at ``end``."""
    return HalfHour(end, forward_raw=0, forward_joules=Decimal(kwh) * KWH)


def test_each_half_hour_is_the_difference_of_two_registers() -> None:
    rows = [
        register(MIDNIGHT - 1800, "99.0"),  # yesterday's last register: not today
        register(MIDNIGHT, "100.0"),
        register(MIDNIGHT + 1800, "100.25"),
        register(MIDNIGHT + 3600, "100.75"),
        # 01:30 missing: the slots 01:00-01:30 and 01:30-02:00 have no value
        register(MIDNIGHT + 7200, "101.5"),
        register(MIDNIGHT + 9000, "101.0"),  # went backwards (a replaced meter)
        HalfHour(MIDNIGHT + 10800),  # stored without a forward value
    ]
    day = energy_today(rows, None)
    assert day is not None
    assert (day["date"], day["midnight_unix"]) == ("2025-11-26", MIDNIGHT)
    assert len(day["half_hours_kwh"]) == 48
    assert day["half_hours_kwh"][:6] == [0.25, 0.5, None, None, None, None]
    assert day["half_hours_kwh"][6:] == [None] * 42
    assert day["missing_half_hours"] == 3  # 01:00, 01:30, 02:00 (before the last boundary)
    assert day["complete"] is False
    assert day["energy_forward_kwh"] == 0.75


def test_the_register_at_midnight_opens_the_meters_day() -> None:
    """The slot ending at 00:00 is the last of its day, and its register is the new day's
    start: with it stored, the day is complete from 00:00 before any slot of it ends."""
    assert energy_today([], None) is None
    day = energy_today([register(MIDNIGHT - 1800, "1"), register(MIDNIGHT, "2")], None)
    assert day is not None
    assert (day["date"], day["since_unix"], day["complete"]) == ("2025-11-26", MIDNIGHT, True)
    assert day["energy_forward_kwh"] == 0.0
    first = energy_today([register(MIDNIGHT, "2"), register(MIDNIGHT + 1800, "2.5")], None)
    assert first is not None
    assert (first["date"], first["half_hours_kwh"][0]) == ("2025-11-26", 0.5)


def bars(page: str) -> list[tuple[float, str]]:
    """(height, tooltip) of every bar of the half-hour chart."""
    return [
        (float(m[1]), m[2])
        for m in re.finditer(
            r'<rect [^>]*height="([\d.]+)" class="bar"><title>([^<]*)</title>', page
        )
    ]


def test_the_page_draws_one_bar_per_known_half_hour() -> None:
    rows = [register(MIDNIGHT + 1800 * i, str(100 + i * i / 10)) for i in range(27)]
    status = status_dict(
        ExporterState(interval=60.0),
        PowerLog(),
        now_monotonic=5.0,
        now_unix=UNIX,
        version=VERSION,
        rows=rows,
    )
    page = status_page(status, now_unix=UNIX).decode()
    drawn = bars(page)
    assert len(drawn) == 26  # 00:00-13:00: 26 differences of 27 registers
    assert drawn[0] == (drawn[0][0], f"00:00{NBSP}0.10{NBSP}kWh")
    assert drawn[25][1] == f"12:30{NBSP}5.10{NBSP}kWh"
    heights = [height for height, _ in drawn]
    assert heights == sorted(heights) and heights[0] < heights[-1]  # more each half-hour
    assert 'aria-label="kWh per half-hour, 26 Nov 2025"' in page
    assert "Energy bought per half-hour, 26 Nov 2025" in "".join(table(page).text)
    # the bars add up to "energy today": 13 hours of registers 100.0 .. 167.6 kWh
    assert f"67.60{NBSP}kWh" in table(page).rows["Energy today (bought)"]
    assert sum(float(tip.split(NBSP)[1]) for _, tip in drawn) == pytest.approx(67.6)


def test_without_half_hours_the_chart_says_so() -> None:
    page = page_of(ExporterState(interval=60.0), 5.0)
    assert 'aria-label="no half-hours"' in page
    assert "no half-hours stored yet" in page
    assert bars(page) == []


def app_with_history(reader: Any) -> Any:
    state = ExporterState(interval=60.0)
    registry = CollectorRegistry()

    return ExporterApp(
        state,
        registry,
        monotonic=Clock(5.0),
        version=VERSION,
        wall=Clock(UNIX),
        history=reader,
        history_wait=Timing().history_read,
    )


async def test_the_index_asks_the_store_around_now() -> None:
    asked: list[tuple[float, float]] = []

    async def reader(since: float, until: float) -> list[HalfHour]:
        asked.append((since, until))
        return [register(MIDNIGHT - 1800 + 1800 * i, str(i)) for i in range(4)]

    status, _, body = await call(app_with_history(reader), "/")
    assert status == 200
    assert asked == [(UNIX - DAY_LOOKAROUND, UNIX + DAY_LOOKAROUND)]
    assert [tip for _, tip in bars(body.decode())] == [
        f"00:00{NBSP}1.00{NBSP}kWh",
        f"00:30{NBSP}1.00{NBSP}kWh",
    ]


async def test_a_store_still_opening_does_not_hold_the_page(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def reader(since: float, until: float) -> list[HalfHour]:
        await trio.sleep_forever()
        raise AssertionError

    with trio.fail_after(60):
        status, _, body = await call(app_with_history(reader), "/")
    assert status == 200
    assert b"no half-hours stored yet" in body


# -- the language: Accept-Language, lang, Vary, the catalog ---------------------------------
@pytest.mark.parametrize(
    ("accept", "lang"),
    [
        ("ja", "ja"),
        ("ja-JP", "ja"),
        ("ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7", "ja"),
        ("en-US,en;q=0.9,ja;q=0.8", "en"),
        ("en;q=0.1, ja;q=0.5", "ja"),
        ("ja;q=0, *", "en"),
        ("fr-FR", "en"),
        ("", "en"),
    ],
)
def test_accept_language_picks_the_page_language(accept: str, lang: str) -> None:
    assert negotiate(accept) == lang


async def test_the_page_speaks_the_negotiated_language() -> None:
    state, mono, _, app = setup()
    connect(state, mono)
    for accept, lang, label in (
        (b"ja-JP,ja;q=0.9,en;q=0.8", "ja", "今日の買電量"),
        (b"en-GB", "en", "Energy today (bought)"),
    ):
        status, headers, body = await call(app, "/", headers=[(b"accept-language", accept)])
        page = body.decode()
        assert status == 200
        assert f'<html lang="{lang}">' in page
        assert label in table(page).rows or label in "".join(table(page).text)
        assert headers[b"vary"] == b"Accept-Language"
        assert headers[b"content-language"] == lang.encode()
    ja = (await call(app, "/", headers=[(b"accept-language", b"ja")]))[2].decode()
    assert "2025年11月25日" in ja  # the chart's day, the Japanese way
    assert f"1,400{NBSP}W" in ja  # a thousands separator in both languages


def states() -> dict[str, ExporterState]:
    no_device = ExporterState(interval=60.0)
    no_device.set_session_state(SessionState.NO_DEVICE)
    latched = ExporterState(interval=60.0)
    latched.set_session_state(SessionState.LATCHED)
    latched.set_credentials_latched(True)
    limited = ExporterState(interval=60.0)
    limited.set_session_state(SessionState.RATE_LIMITED)
    limited.set_rate_limited(True)
    return {
        "no_device": no_device,
        "no_reading": ExporterState(interval=60.0),
        "latched": latched,
        "rate_limited": limited,
    }


SAYS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "no_device": ("/dev/ttyUSB7", "Is the stick plugged in?", "dialout"),
        "no_reading": ("No meter reading yet",),
        "latched": ("SMARTMETER_ID", "SMARTMETER_PASSWORD", "rejected"),
        "rate_limited": ("EVENT 32", "transmit-time limit", "resume by themselves"),
    },
    "ja": {
        "no_device": ("/dev/ttyUSB7", "挿さっていますか", "dialout"),
        "no_reading": ("まだスマートメーターの値がありません",),
        "latched": ("SMARTMETER_ID", "SMARTMETER_PASSWORD", "拒否"),
        "rate_limited": ("EVENT 32", "送信時間の上限", "自動で再開"),
    },
}


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", ["no_device", "no_reading", "latched", "rate_limited"])
def test_each_problem_says_what_is_wrong_and_what_to_do(lang: str, name: str) -> None:
    state = states()[name]
    status = status_dict(
        state, PowerLog(), now_monotonic=5.0, now_unix=UNIX, version=VERSION, device="/dev/ttyUSB7"
    )
    page = status_page(status, now_unix=UNIX, language=lang).decode()
    problem = re.search(r'<p class="problem" role="alert">(.*?)</p>', page, re.S)
    assert problem is not None
    for words in SAYS[lang][name]:
        assert words in html.unescape(problem[1])
    assert name not in "".join(table(page).text)  # no raw state code shown
    assert "no_device" not in page and "rate_limited" not in page


def test_a_fresh_reading_shows_no_problem() -> None:
    state, mono = ExporterState(interval=5.0), Clock(100.0)
    page = page_of(state, 100.0, connect(state, mono))
    assert 'class="problem"' not in page


def test_a_lang_query_overrides_the_header_only_with_a_language_we_have() -> None:
    assert negotiate("en-US", "ja") == "ja"
    assert negotiate("ja", "en") == "en"
    assert negotiate("ja", "fr") == "ja"
