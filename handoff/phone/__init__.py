"""Phone calls in the same queue as every other channel (issue 20, items 1-6).

A call is a conversation of channel ``phone`` with no transcript: :mod:`.models` (the call and the
events of the phone system seen), :mod:`.signature` (HMAC of the events), :mod:`.calls` (what each
event does to the call and its conversation), :mod:`.busy` (on a call: no chat offers),
:mod:`.web` (the events endpoint and the console's routes), :mod:`.strings`, :mod:`.schemas`.
"""
