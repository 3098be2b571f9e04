"""Ray Serve applications: the API ingress now, plugin deployments later."""
