"""recipient-policy: refuses recipients matching a configured pattern at RCPT TO (an
``http`` plugin: a small outside service, ``python -m plugins.recipient_policy``)."""
