"""Outbound mail: the retry schedule, the delivery loop, and what it sends and makes."""
