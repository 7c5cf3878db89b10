"""What a run counts: each query's state (bookmark, periods emitted), owed periods, distinct
questions, today.

Never imports `running`: a plan is made before anything is sent.
"""
