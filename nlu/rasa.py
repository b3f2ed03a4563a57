"""A Rasa server as the triage backend (``nlu.backend: rasa``).

Asks ``POST {url}/model/parse`` with ``{"text": ...}`` and maps Rasa's answer (``intent``,
``intent_ranking``, ``entities``) onto the triage schema; the decision layer and the safety rules
of ``nlu.triage`` apply on top exactly as for the embedded model.  When the server cannot be
reached, times out, answers with an error or with intents outside the schema, the message is
triaged by the embedded classifier instead and ``health()`` reports ``degraded``.  After a failure
the server is left alone for ``retry_after`` seconds so that a dead server does not add its
timeout to every message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp

from nlu.language import detect_language
from nlu.result import INTENT_PRIORITY, LANGUAGES, TriageResult

log = logging.getLogger(__name__)


class RasaAnswerError(ValueError):
    """Rasa answered, but not with something we can use."""


def map_rasa_answer(data: Any) -> tuple[list[tuple[str, float]], list[dict[str, Any]], str]:
    """(intent ranking limited to the schema's intents, entities, model id) from a parse answer."""
    if not isinstance(data, dict):
        raise RasaAnswerError("answer is not a JSON object")
    ranking: list[tuple[str, float]] = []
    raw = data.get("intent_ranking")
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict) and item.get("name") in INTENT_PRIORITY:
                ranking.append((str(item["name"]), float(item.get("confidence") or 0.0)))
    intent = data.get("intent")
    if isinstance(intent, dict) and intent.get("name") in INTENT_PRIORITY:
        top = (str(intent["name"]), float(intent.get("confidence") or 0.0))
        if not ranking or ranking[0][0] != top[0]:
            ranking = [top] + [r for r in ranking if r[0] != top[0]]
    if not ranking:
        raise RasaAnswerError("no intent of the triage schema in the answer")
    ranking.sort(key=lambda r: -r[1])
    entities = [e for e in data.get("entities") or [] if isinstance(e, dict)]
    model = data.get("model") or data.get("model_id") or ""
    return ranking, entities, str(model)


class Fallback(Protocol):
    """What the Rasa backend needs of the embedded triager (``nlu.triage.EmbeddedTriager``), which
    builds the Rasa backend (``build_triager``): named here, not imported, so that the two modules
    do not import each other."""

    async def parse(self, text: str, language_hint: str | None = None) -> TriageResult: ...

    def parse_sync(self, text: str, language_hint: str | None = None) -> TriageResult: ...

    def result_from_ranking(
        self,
        text: str,
        ranking: Sequence[tuple[str, float]],
        *,
        language_hint: str | None,
        backend: str,
        model_version: str,
        entities: Sequence[dict[str, Any]] = (),
    ) -> TriageResult: ...

    def health(self) -> dict[str, Any]: ...


class RasaTriager:
    backend = "rasa"

    def __init__(
        self,
        url: str,
        fallback: Fallback,
        timeout: float = 2.0,
        retry_after: float = 5.0,
        token: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.fallback = fallback
        self.timeout = timeout
        self.retry_after = retry_after
        self._token = token
        self._session: aiohttp.ClientSession | None = None
        self._state = "unknown"
        self._last_error: str | None = None
        self._degraded_since: str | None = None
        self._skip_until = 0.0
        self._fallbacks = 0

    async def _post(self, text: str) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        params = {"token": self._token} if self._token else None
        async with self._session.post(f"{self.url}/model/parse", json={"text": text}, params=params) as resp:
            if resp.status != 200:
                raise RasaAnswerError(f"HTTP {resp.status}")
            return await resp.json(content_type=None)

    def _degrade(self, reason: str) -> None:
        if self._state != "degraded":
            self._degraded_since = datetime.now(UTC).isoformat()
            log.warning("rasa backend degraded (%s): using the embedded classifier", reason)
        self._state = "degraded"
        self._last_error = reason
        self._skip_until = time.monotonic() + self.retry_after

    async def parse(self, text: str, language_hint: str | None = None) -> TriageResult:
        if detect_language(text, language_hint).language not in LANGUAGES:
            # A Rasa model trained on Swedish and English cannot read Arabic or Somali: the
            # embedded triager's multilingual stage does.
            result = await self.fallback.parse(text, language_hint)
            result.extra["fallback"] = "language"
            return result
        if time.monotonic() >= self._skip_until:
            try:
                data = await self._post(text)
                ranking, entities, model = map_rasa_answer(data)
            except TimeoutError:
                self._degrade(f"timeout after {self.timeout}s")
            except aiohttp.ClientError as exc:
                self._degrade(f"{type(exc).__name__}")
            except (RasaAnswerError, ValueError) as exc:
                self._degrade(f"bad answer: {exc}")
            else:
                if self._state != "ok":
                    log.info("rasa backend ok")
                self._state, self._degraded_since = "ok", None
                return self.fallback.result_from_ranking(
                    text,
                    ranking,
                    language_hint=language_hint,
                    backend="rasa",
                    model_version=model,
                    entities=entities,
                )
        self._fallbacks += 1
        result = self.fallback.parse_sync(text, language_hint)
        result.extra["fallback"] = "embedded"
        return result

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": "rasa", "state": self._state, "url": self.url}
        if self._state == "degraded":
            out.update(
                fallback="embedded",
                last_error=self._last_error,
                degraded_since=self._degraded_since,
                fallbacks=self._fallbacks,
            )
        out["embedded"] = self.fallback.health()
        return out

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
