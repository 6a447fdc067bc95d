//! Integration tests of stab-data, one binary. Real-data tests read the shared data folder
//! (`STAB_DATA_DIR`, else `<workspace>/../shared/data`); everything else writes small files
//! into temporary folders.

mod bad_input;
mod custom;
mod parity;
mod real_data;
mod score_check;
mod synthetic;
mod util;
