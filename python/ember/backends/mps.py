"""ember.backends.mps: Apple MPS queries.

False on every machine: ember reaches any GPU (Metal included) as "cuda"/"gpu"
(see ember.cuda), and answering True here too would send "mps if available"
scripts to the same backend under a second name.
"""


def is_available():
    return False


def is_built():
    return False
