"""The hook platform's core: hook points, the data scopes a plugin is given, what its
permissions let it answer, and the chain that runs a point's plugins in parallel under
one deadline (DESIGN §6). No transport lives here; a plugin is reached through an injected
call (Ray Serve and HTTP transports sit outside the core)."""
