"""What happens to an accepted message after 250: named stages run per recipient.

A pipeline is data: a tuple of stage names (``DEFAULT_STAGES``), each stage one
small class in ``stages/``. The runner processes a leased batch of queue rows;
the dispatcher leases batches and hands them to a worker pool.
"""
