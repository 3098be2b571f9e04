"""classifier: a category tag (invoice, newsletter, notification, personal, support) for
each delivered message from a small CPU model trained on the project's own corpus (a
``serve`` plugin, a ``post_receive`` job)."""
