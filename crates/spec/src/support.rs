//! Small helpers every stab crate needs, kept here once so they cannot drift apart: the host
//! name and times written into records and lock files, the one-line error chain, and (with the
//! `progress` feature) the progress-bar style.
//!
//! They live in `stab-spec` because it is the one crate all others depend on and it links no
//! LibTorch.

use std::time::{SystemTime, UNIX_EPOCH};

/// The kernel's host name (`gethostname(2)`), or an empty string if it cannot be read.
///
/// Records and launcher lock files compare host names, so both use this one function. It asks
/// the kernel directly rather than reading `/proc/sys/kernel/hostname`, which needs `/proc`
/// mounted (and is absent off Linux).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// 1-based line and column (in characters) of byte `offset` in `text`: where an error in a
/// TOML or JSON file points, for run-spec and sweep files alike. An offset past the end is the
/// end.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// `error: cause: cause` — the whole chain of `e` on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

/// A progress style from an indicatif `template`, falling back to the default bar if the
/// template does not parse.
#[cfg(feature = "progress")]
pub fn progress_style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

/// A progress bar of `len` steps on stderr, styled by [`progress_style`]`(template)`.
#[cfg(feature = "progress")]
pub fn progress_bar(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(progress_style(template));
    bar
}

/// A duration for progress lines: `45s`, `4m20s`, `1h02m`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A Unix time as a UTC date and time to the second: `2026-12-03 13:44:59 UTC` (for log
/// lines a person reads; records keep the number). Days to civil date by Howard Hinnant's
/// `civil_from_days`.
pub fn utc_timestamp(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    /// Against Python's `datetime.fromtimestamp(t, timezone.utc)`.
    #[test]
    fn unix_times_read_as_utc_dates() {
        assert_eq!(super::utc_timestamp(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            super::utc_timestamp(951_782_400.0),
            "2000-02-29 00:00:00 UTC"
        );
        assert_eq!(
            super::utc_timestamp(1_796_305_499.25),
            "2026-12-03 13:44:59 UTC"
        );
        assert_eq!(
            super::utc_timestamp(4_102_444_800.0),
            "2100-01-01 00:00:00 UTC"
        );
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(super::human_duration(44.6), "45s");
        assert_eq!(super::human_duration(260.0), "4m20s");
        assert_eq!(super::human_duration(3720.0), "1h02m");
        assert_eq!(super::human_duration(-1.0), "0s");
    }

    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn error_chain_joins_every_cause() {
        let e = E(
            "outer",
            Some(Box::new(E("middle", Some(Box::new(E("inner", None)))))),
        );
        assert_eq!(error_chain(&e), "outer: middle: inner");
    }

    #[test]
    fn clock_and_host_are_readable() {
        assert!(unix_seconds() > 1.0e9);
        assert!(unix_millis() > 1_000_000_000_000);
        assert!(!hostname().is_empty());
    }

    #[test]
    fn line_col_counts_characters_from_one() {
        let text = "a = 1\nbé = [2, 3]\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, text.find('[').unwrap()), (2, 6));
        assert_eq!(line_col(text, 10_000), (3, 1));
    }
}
