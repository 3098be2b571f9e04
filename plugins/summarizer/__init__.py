"""summarizer: an extractive summary of each delivered message, kept as a note the message
API shows (a ``serve`` plugin, a ``post_receive`` job)."""
