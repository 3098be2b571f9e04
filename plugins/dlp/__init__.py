"""dlp: refuses (or holds, or tags) outgoing mail carrying payment card numbers, IBANs or
configured patterns (a ``serve`` plugin at ``pre_send``)."""
