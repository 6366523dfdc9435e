"""Reconciliation: read what each channel shows, compare it with what the hub publishes,
record drift first and act second (DESIGN lessons 6 and 7).

    budget       reads take tokens from the channel's bucket only above a reserve that
                 live pushes keep
    runs         a reconcile run per channel: batches, resume, the schedule
    compare      one batch compared under the listings' locks: drift, pending, resolved,
                 not on channel
    evidence     what the hub knows about one drift (pushes, orders, events, counts)
    investigate  "do I understand why these numbers disagree?": rules, or a model server
    decisions    the hub's gate (confidence and |delta|), auto-correction, escalation
    counts       physical counts: preview, apply, approval
    digest       the daily digest email ("All clear" when nothing needs a person)
"""
