"""Training, decoding and evaluation."""


# ======================================================================
# Digit track (FSDD, CNN vs RNN): everything below this line.
# ======================================================================
