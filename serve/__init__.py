"""Ray Serve applications: the API ingress, and one application per serve plugin."""
