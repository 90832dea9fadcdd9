"""The message service: a stored letter's life, from its confirmation to its last delivery event.

The database row is always the truth. Every state change is one conditional UPDATE made by
`states.transition` (a new letter's first state is given by `states.start`), so two workers
(or a worker and the sweep, or a worker and an edit) can race and at most one of them wins
each step. `letters.mail` only builds and sends emails; this package decides when.
"""
