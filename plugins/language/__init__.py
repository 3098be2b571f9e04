"""language: the language of each delivered message, as a tag and a note (a ``serve``
plugin, a ``post_receive`` job)."""
