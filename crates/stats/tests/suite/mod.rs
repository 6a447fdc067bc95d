mod bad_input;
mod counts;
mod degenerate;
mod issue10;
mod issue11;
mod parity;
mod report;
mod util;
