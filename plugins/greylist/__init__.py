"""greylist: refuses a first-seen (client network, sender, recipient) triplet for now at
RCPT TO, and passes it once retried after the window (a ``serve`` plugin keeping its
triplets in the platform's plugin state)."""
