mod bad_input;
mod parity;
mod report;
mod util;
