"""The numbers the predictor's torch code and its numpy twin (:mod:`automix.inference`) share.

Layer widths, the envelope construction's margins and search, the bus estimate's analysis and tone solve.
Kept apart from both so that neither has to import the other (the numpy twin must run without torch).
"""

#: most stems one session may have
MAX_STEMS = 64
#: layer widths of the model: the per-stem encoder, the stem and master heads, the tone head
ENCODER_HIDDEN = (256, 256, 128)
HEAD_HIDDEN = 128
TONE_HIDDEN = 64

#: how far inside each EQ limit the construction stays (dB): the checker reads the response at the session's
#: rate; the construction may run at another (48 kHz when it is not known)
EQ_MARGIN_DB = 0.05
#: how far inside the level limit the construction stays (dB): the fader, make-up and trim are each written at
#: 0.01 dB, so their sum can land up to 0.015 dB away from where the network put it
LEVEL_MARGIN_DB = 0.02
#: candidate EQ scales, from 1 down to 0 (the grid's size)
N_ALPHAS = 11
#: bisection steps between the grid's last passing and first failing scale: 0.1 / 2^10, a 0.006 dB step at most
BISECTIONS = 10
#: a box narrower than this (unit interval) is a point
BOX_EPS = 1e-6

#: the band meter's analysis rate and frame (Hz, samples): librosa's defaults
MIR_SAMPLE_RATE, MIR_FRAME = 22050.0, 2048
#: the smallest distance from 0 and 1 a unit value is taken to before its logit
LOGIT_EPS = 1e-4
#: the master tone solve: Gauss-Newton steps, ridge, the logit range of a solved gain, finite-difference step
SOLVE_ITERATIONS = 4
SOLVE_RIDGE = 2e-3
SOLVE_LOGIT_MAX = 4.0
FD_STEP = 1e-4
#: the rate the EQ responses are designed at for the estimate: 44.1 and 48 kHz designs differ by far
#: less than reading the response at one frequency per octave approximates
ESTIMATE_RATE = 48000
