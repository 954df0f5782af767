//! Value parsers for flags: durations, sizes, ranges, rates, methods, form fields, headers.

use std::time::Duration;

/// Parse a duration: bare seconds (`5`, `0.5`, as curl takes them) or `10s`, `250ms`, `1m`
/// (the library's reader, also a JSON request's `timeout`'s).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    poolfetch::parse_duration(text)
}

pub(super) fn parse_range_arg(text: &str) -> Result<std::ops::RangeInclusive<u64>, String> {
    poolfetch::parse_range(text).map_err(|e| {
        let mut message = super::words::input(&e);
        // curl's -r/--range is a byte range, `0-499`.
        if text.contains('-') && !text.contains("..") {
            message.push_str(&format!(
                "; for curl's byte range send -H 'Range: bytes={}'",
                text.trim()
            ));
        }
        message
    })
}

/// `--resolve HOST:PORT:ADDR[,ADDR…]`, curl's.
pub(super) fn parse_pin(text: &str) -> Result<poolfetch::Pin, String> {
    text.parse()
}

/// Parse a byte size: `1024`, `64k`/`64KiB` (×1024), `10MB` (×1000²), `10MiB`/`10m` (×1024²)…
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 512KiB or 10MiB)"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1_000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit (use B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// `N`, `N/s`, `N/m` or `N/h`: see [`Rate`](poolfetch::Rate).
pub(super) fn parse_rate(text: &str) -> Result<poolfetch::Rate, String> {
    text.parse()
}

pub(super) fn parse_method(text: &str) -> Result<String, String> {
    poolfetch::check_method(text)
}

pub(super) fn parse_form_field(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("form field {text:?} is not K=V"))?;
    Ok((key.to_string(), value.to_string()))
}

pub(super) fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("header {text:?} is not 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("header {text:?} has no name"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_bare_seconds_as_curl_does() {
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        for bad in ["-1", "nan", "inf", "5 parsecs", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64k"), Ok(65_536));
        assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn rates_take_seconds_minutes_or_hours() {
        let interval = |text| parse_rate(text).unwrap().interval();
        assert_eq!(interval("50"), Duration::from_millis(20));
        assert_eq!(interval("50/s"), Duration::from_millis(20));
        assert_eq!(interval("30/m"), Duration::from_secs(2));
        assert_eq!(interval("1/m"), Duration::from_secs(60));
        assert_eq!(interval("2/h"), Duration::from_secs(1800));
        assert_eq!(interval("0.5/s"), Duration::from_secs(2));
        assert_eq!(interval("1.5/m"), Duration::from_secs(40));
        assert_eq!(parse_rate("0.5/s").unwrap().to_string(), "30/m");
        assert_eq!(parse_rate("50").unwrap().to_string(), "50/s");
        assert_eq!(parse_rate("2/h").unwrap().to_string(), "2/h");
        for bad in [
            "0", "fast", "5/d", "-1/s", "0/m", "nan/s", "inf", "0.0/s", "1e-30/s",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_need_a_name_and_a_colon() {
        assert_eq!(
            parse_header("Accept: a/b"),
            Ok(("Accept".into(), "a/b".into()))
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": v").is_err());
    }
}
