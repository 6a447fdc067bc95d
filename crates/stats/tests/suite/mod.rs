mod bad_input;
mod degenerate;
mod issue10;
mod parity;
mod report;
mod util;
