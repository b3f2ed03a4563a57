"""Telegram channel (python-telegram-bot 22): webhook or long polling, text only.

Incoming updates are parsed from the Bot API's raw JSON by :mod:`bots.telegram.updates` (not by
PTB's ``de_json``) so that one malformed update is logged and skipped instead of failing a whole
``getUpdates`` batch.

Privacy: the chat id becomes the keyed pseudonym at once; the raw chat id travels only as the
``address`` beside the envelope (the pipeline keeps it in the encrypted contact record).  Usernames,
profile names and the language code never reach an envelope or a log line; the language code only
chooses the language of this adapter's own short answers.  Photos, voice messages, documents and the
like are never downloaded: the person is told that only text is handled, and a caption is handled as
text.

The triage's safe response is not sent by this adapter: the pipeline stores it and delivers it
through egress (:meth:`TelegramAdapter.send`) like every reply.  The adapter answers only its own
commands (``/start``, ``/stopp``/``/stop``, ``/hjalp``/``/help``) and unsupported content, through an
in-order outbox.  ``external_id`` is the ``update_id`` (redeliveries carry the same one; an edit is a
new update, so a new message).  When ingress refuses an update for good (InvalidInput, e.g. ``/stopp``
with nothing open) the update counts as handled; any other ingress error makes Telegram redeliver it.

Modes:

* ``webhook``: :meth:`TelegramAdapter.routes` serves ``POST /channels/telegram/webhook`` on the
  gateway's own aiohttp application; :meth:`~TelegramAdapter.start` registers ``webhook_url`` with
  ``setWebhook`` (secret token, allowed updates).  The handler answers 200 only after ingress has
  returned, so Telegram redelivers whatever we failed to store.  Every process of a fleet may serve
  the webhook.
* ``polling``: ``getUpdates`` long polling; the offset moves past an update only after ingress has
  returned for it.  One poller per fleet (:meth:`~TelegramAdapter.needs_lease`).

Configuration (``channels.telegram``): ``token`` (required), ``mode`` (``"webhook"`` or ``"polling"``;
default ``"webhook"`` when ``webhook_url`` is set, else ``"polling"``), ``webhook_url`` (the full
public URL Telegram posts to, ending in :data:`WEBHOOK_PATH` behind the reverse proxy),
``webhook_secret`` (1-256 characters ``A-Z a-z 0-9 _ -``; required in webhook mode), ``base_url``
(Bot API base, e.g. ``http://127.0.0.1:8081/bot`` for a local Bot API server; the file URL is
derived from it), ``poll_timeout`` (seconds of one long poll, default 25).
"""
