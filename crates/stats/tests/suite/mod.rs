mod bad_input;
mod degenerate;
mod parity;
mod report;
mod util;
mod issue10;
