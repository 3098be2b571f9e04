"""The SMTP edge, in three rooms (STYLE.md convention 1).

* ``handler``  — what we answer to MAIL, RCPT and DATA (``InboundHandler``);
* ``protocol`` — where we differ from stock aiosmtpd (``MairustSMTP``);
* ``frontend`` — the listeners on the current event loop (``SmtpFrontEnd``);

and ``replies``, every reply we send with its enhanced status code.
"""
