"""SMS through an HTTP SMS provider (46elks, Sinch, Twilio and the like): its webhooks in, its
send API out, every URL and field name from the configuration (``channels.sms``, docs/sms.md).

Incoming (``POST /channels/sms/inbound``, form-encoded or JSON: id, from, to, text, time): the
call is authenticated (HTTP basic, or an HMAC signature of ``<timestamp>.<body>`` with a
timestamp: :mod:`bots.sms.webhook`) and answered 200 only once ingress has stored the message
(durable first); 503 while the store is away, so the provider delivers it again.  The provider's
message id is the ``external_id``: a redelivery is stored once.  Bad input gets a 422 that says
which field, never a traceback; a message that can never be stored is kept as a dead letter.

Keywords (the whole text, any case, trimmed):

* ``STOPP``/``STOP`` is stored as the person's message (the counsellor sees why the conversation
  ended), without triage and without an automatic answer, and the conversation is ended (a
  critical one still reaches a counsellor, as for every channel).  Egress hands the adapter the
  meta of the person's latest message, so while that is the STOPP every send to the number fails
  with "the person sent STOPP" (shown to the counsellor): the number gets nothing more until it
  writes again.  No confirmation is sent.
* ``HJÄLP``/``HJALP`` (Swedish), ``HELP`` (English) and each other person language's help word
  (the catalogue's ``sms.help_words``) are answered at once, in the word's language, with the
  service's short description (the person catalogue's ``sms.help``, or ``help_sv``/``help_en``)
  and not stored: the operators' convention, which opens no conversation.

Outgoing: :meth:`SmsAdapter.send` posts to ``send_url`` (:mod:`bots.sms.provider`), retrying 429 and
5xx with back-off (``Retry-After`` honoured) and giving up on other 4xx with a clear reason (the
message is ``failed``, shown to the counsellor).  Egress claims each message under the send lease
first, so one process of a fleet sends it once.  The segments it costs (:mod:`bots.sms.segments`)
are kept on the message (``meta.delivery_detail``) and shown in the console.  With ``report_url``
each message carries a delivery report URL with ``ref=<our message id>``; the provider's report
(``POST /channels/sms/report``) marks it ``delivered`` or ``failed`` (with the reason, an event to
the console, audited).

Privacy: the number is normalised to E.164 (``phonenumbers``), pseudonymised at once and travels
only as the ``address`` beside the envelope (kept encrypted in the contact record, under retention).
Nothing of a request, a body or a number is logged.
"""
