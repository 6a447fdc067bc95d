mod bad_input;
mod counts;
mod degenerate;
mod findings_and_axes;
mod parity;
mod report;
mod run_accounting;
mod util;
