"""Training before the first real contact: simulated people, supervisors who watch and coach.

Training is kept apart by construction: its conversations live in tables of their own
(:mod:`.models`, every name ``training_*``), never in ``conversations``/``messages``; nothing of it
is written to the outbox, the broker, the audit log of real conversations, referrals or
disclosures, so no real queue, alert, municipality, the police, report, situational picture or
evaluation can see it.

* :mod:`.models`: sessions, their messages (with hints), scenario edits, required scenarios;
* :mod:`.scenarios`: the scenario format (YAML, validated) and the shipped ``scenarios/*.yml``;
* :mod:`.script`: the simulated person: replies by the trainee's words and triaged intent, delays,
  silences, and the checklist marked as steps happen;
* :mod:`.service`: the session's life (start, claim, reply, referral, crime information with four
  eyes, close with documentation), hints, feedback, progress, requirements, the purge;
* :mod:`.desk` + :mod:`.console_web`: the real console's page and scripts in training mode (the
  console's routes answered from training sessions: queue, transcript, claim, reply, referral,
  crime information, close and documentation);
* :mod:`.web`: pages and routes (:data:`.web.ROUTES`); :mod:`.schemas`.
"""
