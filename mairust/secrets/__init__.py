"""The one secret store: tenants' secrets sealed at rest, never shown again after creation.

``master_key`` loads the master key (config, or the embedded key file), ``keyring``
derives its subkeys (secret sealing, API token digests) and seals and opens values,
``vault`` is the facade the services call, and ``private_file`` writes a 0600 file
once (the embedded key, the admin token). Stores hold ciphertext only.
"""
