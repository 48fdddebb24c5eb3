"""Sign-in: lockout after repeated failures, the audit of every sign-in, idle sign-out.

The rules, as a clinician meets them:

- **Lockout.** After ``MEDASSIST_SIGNIN_FAILURE_LIMIT`` wrong passwords (default 5) for one
  user name from one address, that user name is refused from that address for
  ``MEDASSIST_SIGNIN_COOLOFF_MINUTES`` (default 15) after the last counted failure, even with
  the right password. The sign-in page says until when, and that an administrator can unlock
  sooner (the admin's "Access attempts", or ``manage.py axes_reset_username <name>``). The
  same user name from another address, and every other user from the same computer, can
  still sign in. Tries while locked out are refused but not counted, so the time shown holds.
  A successful sign-in clears the count. django-axes keeps the counters (``lockout.py``).
- **Audit.** Every failed sign-in (``auth.signin_failed``, with the user name typed and the
  address, never the password), lockout (``auth.locked_out``), sign-in (``auth.signin``) and
  sign-out (``auth.signout``, with the reason: ``user`` or ``idle``) is an AuditEvent
  (``receivers.py``).
- **Idle sign-out.** A session with no activity for ``MEDASSIST_IDLE_LOGOUT_MINUTES`` (default
  30) is signed out at its next request (``middleware.py``). Activity is every request except
  the pages' own automatic refreshes: a request carrying ``X-MedAssist-Poll: 1`` does not
  count. ``static/js/idle.js`` adds that header to every request htmx sends for an element
  whose own ``hx-trigger`` is a timer (``every 5s``), and to its own checks; it warns two
  minutes before the limit, counts a key press or mouse move during the warning as activity,
  and opens the sign-in page at the limit (``idle.py``, ``views.py``).
"""
