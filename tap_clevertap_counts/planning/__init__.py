"""What a run counts: owed periods, distinct questions, day ranges counted, today.

Never imports `running`: a plan is made before anything is sent.
"""
