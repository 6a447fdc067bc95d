//! Integration tests of stab-stats, as one binary (parity with SciPy/numpy/deepsig, reports,
//! bad input).

mod suite;
