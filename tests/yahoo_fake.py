"""A fake Yahoo at yfinance's HTTP boundary: a curl_cffi Session answering recorded payloads.

yfinance sends every request through ``YfData._make_request`` -> ``session.get/post``
-> ``Session.request``. This class overrides only ``request``, so yfinance's own
cookie/crumb dance, URL building, JSON/HTML parsing and error handling all run
for real. Payloads (tests/fixtures/yahoo/) are shaped like Yahoo's:

* ``/v8/finance/chart/<T>``: daily bars and their split/dividend ``events``, sliced by
  ``period1``/``period2`` as Yahoo does, or the last bar for ``range=1d`` (yfinance's
  time-zone probe);
* ``/v10/finance/quoteSummary/<T>``: the ``upgradeDowngradeHistory`` module;
* ``finance.yahoo.com/calendar/earnings?symbol=<T>``: the HTML table yfinance scrapes.

``faults`` is a queue of ``(url_part, kind)``; the next request whose URL contains
``url_part`` fails as ``kind``: ``"down"`` (curl ConnectionError), ``"429"``,
``"empty"`` (a chart with no bars), ``"500"``.

``latency`` (seconds) makes every answer take that long, as the network does, so
parallel callers overlap; ``max_in_flight`` then says how many requests were
being answered at once at the most, and ``answered`` holds the wall-clock
(start, end) of every answer, to compare across processes.
"""

from __future__ import annotations

import contextlib
import copy
import http.cookiejar
import json
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from curl_cffi import requests as curl_requests

FIXTURES = Path(__file__).parent / "fixtures" / "yahoo"
NOT_FOUND_CHART = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}


def _response(url: str, status: int, body: str | bytes) -> curl_requests.Response:
    resp = curl_requests.Response()
    resp.url = url
    resp.status_code = status
    resp.ok = status < 400
    resp.reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}.get(status, "Error")
    resp.content = body.encode() if isinstance(body, str) else body
    return resp


class FakeYahoo(curl_requests.Session):
    """Recorded Yahoo: answers chart, quoteSummary and earnings-calendar requests offline."""

    def __init__(
        self, charts: dict[str, dict] | None = None, faults=None, latency: float = 0.0
    ) -> None:
        super().__init__(impersonate="chrome")
        self.latency, self.in_flight, self.max_in_flight = latency, 0, 0
        self.answered: list[tuple[float, float]] = []
        self._count_lock = threading.Lock()
        self.charts = charts if charts is not None else {"BABA": load_chart("BABA")}
        self.faults: list[tuple[str, str]] = list(faults or [])
        self.calls: list[tuple[str, str, dict]] = []
        self.earnings_html: dict[str, str] = {"BABA": (FIXTURES / "earnings_BABA.html").read_text()}
        self.summaries: dict[str, str] = {"BABA": (FIXTURES / "quoteSummary_BABA.json").read_text()}

    def request(self, method, url, params=None, **kwargs):  # noqa: D401 - Session API
        """Answer one request the way Yahoo would."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        params = {**query, **(params or {})}
        self.calls.append((method, url, params))
        with self._answering():
            return self._answer(url, params)

    def _answer(self, url: str, params: dict) -> curl_requests.Response:
        fault = self._take_fault(url)
        if fault == "down":
            raise curl_requests.exceptions.ConnectionError(
                "Failed to perform, curl: (7) Failed to connect to query2.finance.yahoo.com"
            )
        if fault in ("429", "500"):
            return _response(url, int(fault), "Too Many Requests" if fault == "429" else "")
        return self._route(url, params, empty=fault == "empty")

    @contextlib.contextmanager
    def _answering(self):
        """Count the requests being answered at once, and take ``latency`` to answer."""
        with self._count_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        began = time.time()
        try:
            time.sleep(self.latency)
            yield
        finally:
            with self._count_lock:
                self.in_flight -= 1
                self.answered.append((began, time.time()))

    @property
    def data_calls(self) -> list[tuple[str, str, dict]]:
        """Requests for data (not the cookie/crumb handshake)."""
        return [c for c in self.calls if "finance" in c[1] and "getcrumb" not in c[1]]

    def _set_a3_cookie(self) -> None:
        expires = int(time.time()) + 365 * 24 * 3600
        self.cookies.jar.set_cookie(
            http.cookiejar.Cookie(
                0,
                "A3",
                "d=fake",
                None,
                False,
                ".yahoo.com",
                True,
                True,
                "/",
                True,
                True,
                expires,
                False,
                None,
                None,
                {},
            )
        )

    def _take_fault(self, url: str) -> str | None:
        for i, (part, kind) in enumerate(self.faults):
            if part in url:
                del self.faults[i]
                return kind
        return None

    def _route(self, url: str, params: dict, empty: bool) -> curl_requests.Response:
        path = urlsplit(url).path
        if "fc.yahoo.com" in url:
            self._set_a3_cookie()  # Yahoo's Set-Cookie: yfinance stores it in its sqlite cache
            return _response(url, 200, "<html><body></body></html>")
        if "consent" in url:
            return _response(url, 200, "<html><body></body></html>")
        if path.endswith("/getcrumb"):
            return _response(url, 200, "Fake.Crumb1")
        if path.startswith("/v8/finance/chart/"):
            return self._chart(url, path.rsplit("/", 1)[1], params, empty)
        if path.startswith("/v10/finance/quoteSummary/"):
            return self._summary(url, path.rsplit("/", 1)[1])
        if path.startswith("/calendar/earnings"):
            html = self.earnings_html.get(params.get("symbol", ""), "<html><body></body></html>")
            return _response(url, 200, html)
        if path.startswith("/v7/finance/quote"):
            return _response(url, 200, json.dumps({"quoteResponse": {"result": [], "error": None}}))
        return _response(url, 404, "{}")

    def _chart(self, url: str, ticker: str, params: dict, empty: bool) -> curl_requests.Response:
        if ticker not in self.charts:
            return _response(url, 404, json.dumps(NOT_FOUND_CHART))
        payload = copy.deepcopy(self.charts[ticker])
        result = payload["chart"]["result"][0]
        stamps = result["timestamp"]
        if "range" in params:
            keep = [len(stamps) - 1]
            lo, hi = stamps[-1], stamps[-1] + 1
        else:
            lo, hi = int(params["period1"]), int(params["period2"])
            keep = [i for i, t in enumerate(stamps) if lo <= t < hi]
        if empty:
            keep = []
        _slice_chart(result, keep)
        _slice_events(result, lo, hi if keep else lo)
        return _response(url, 200, json.dumps(payload))

    def _summary(self, url: str, ticker: str) -> curl_requests.Response:
        if ticker not in self.summaries:
            body = {
                "quoteSummary": {
                    "result": None,
                    "error": {"code": "Not Found", "description": f"Quote not found: {ticker}"},
                }
            }
            return _response(url, 404, json.dumps(body))
        return _response(url, 200, self.summaries[ticker])


def _slice_chart(result: dict, keep: list[int]) -> None:
    if not keep:
        # Yahoo's answer for a range without bars: meta only, an empty quote block.
        result.pop("timestamp", None)
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return
    result["timestamp"] = [result["timestamp"][i] for i in keep]
    quote = result["indicators"]["quote"][0]
    for col in quote:
        quote[col] = [quote[col][i] for i in keep]
    adj = result["indicators"]["adjclose"][0]
    adj["adjclose"] = [adj["adjclose"][i] for i in keep]


def _slice_events(result: dict, lo: int, hi: int) -> None:
    """Keep the split and dividend events dated in ``[lo, hi)``, as Yahoo answers a range."""
    events = result.get("events", {})
    for kind in list(events):
        events[kind] = {k: e for k, e in events[kind].items() if lo <= e["date"] < hi}
        if not events[kind]:
            del events[kind]
    if "events" in result and not events:
        del result["events"]


def load_chart(ticker: str) -> dict:
    """The recorded chart payload of ``ticker``."""
    return json.loads((FIXTURES / f"chart_{ticker}.json").read_text())


# Tickers the fake answers besides BABA: BABA's recorded chart with every price scaled
# by an exact binary factor, so each ticker's right answer is known and no two agree.
SCALES = {"BABA": 1.0, "HALF": 0.5, "TWICE": 2.0, "QUARTER": 0.25}


def scaled_chart(ticker: str, factor: float) -> dict:
    """BABA's recorded chart as if ``ticker`` traded at ``factor`` times its prices."""
    payload = load_chart("BABA")
    result = payload["chart"]["result"][0]
    result["meta"]["symbol"] = ticker
    quote = result["indicators"]["quote"][0]
    for col in ("open", "high", "low", "close"):
        quote[col] = [None if p is None else p * factor for p in quote[col]]
    adj = result["indicators"]["adjclose"][0]
    adj["adjclose"] = [None if p is None else p * factor for p in adj["adjclose"]]
    return payload


def scaled_charts() -> dict[str, dict]:
    """The chart of every ticker in :data:`SCALES`."""
    return {ticker: scaled_chart(ticker, factor) for ticker, factor in SCALES.items()}
