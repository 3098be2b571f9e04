"""header-rules: tags or rejects mail at the end of DATA by regular expressions on its
header fields (a ``serve`` plugin: its own Ray Serve application)."""
