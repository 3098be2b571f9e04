"""Keeping the search role in step with the mailboxes: documents built from entries, one
place that decides "index now or put in the durable backlog", the backlog drain and the
full rebuild. The backends themselves live in ``mairust.storage``."""
