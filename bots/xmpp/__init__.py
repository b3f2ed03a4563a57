"""XMPP channel (slixmpp): one-to-one chats with people who write from any XMPP client.

The gateway logs in as its own account and keeps one connection, so only the process holding the
channel's lease runs it (``needs_lease()``) and only that process can send
(``sends_from_any_process = False``).

What the adapter speaks besides plain chat messages:

* presence subscriptions are accepted (and a subscription back is requested);
* service discovery (XEP-0030) and ping (XEP-0199) are answered;
* chat states (XEP-0085): the person's ``composing``/``paused`` become control envelopes
  (``meta["control"]`` ``"typing"``/``"paused"``); ``notify(..., "typing", ...)`` sends
  ``<composing/>`` to the person;
* the triage's safe response is delivered by the pipeline through egress like any outgoing
  message (the adapter never sends ``IngressResult.safe_response`` itself);
* delivery receipts (XEP-0184): every message we send asks for one and a receipt that comes back
  becomes a ``"delivered"`` control envelope for ``meta["message_id"]`` (the stanza id of what we
  sent is the envelope's message id).  A receipt the person asked for is sent only once ingress
  has returned, i.e. once the message is stored durably; a message that could not be stored is
  never receipted, and the person is told to try again.

Nothing raw leaves the adapter but the bare JID handed to ingress as ``address`` (kept only in the
encrypted contact record): the envelope's sender is the keyed pseudonym, the resource is dropped,
and neither JIDs nor message text are logged (slixmpp's own protocol log is held at WARNING,
because at DEBUG it writes every stanza).

Delivery guarantees: ``send()`` reports SENT only once the stanza was written to a live stream;
while the connection is down it waits (``send_wait`` seconds) for the reconnection and otherwise
raises :class:`~gateway.errors.TransientChannelError` so that the caller retries.  The connection
is re-established by :func:`gateway.channel.run_with_reconnect` with :class:`gateway.channel.Backoff`; a
server that stops answering pings is dropped and reconnected.
"""
