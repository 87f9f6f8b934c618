//! Times for Send later, as typed on the command line: RFC 3339 (`2026-12-04T19:30:00+08:00`),
//! or local wall-clock time, `YYYY-MM-DD HH:MM` or just `HH:MM` (today, or tomorrow
//! once today's has passed). Shown back in local time with its offset.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// The epoch-milliseconds time `text` names, read against `now` for `HH:MM`.
pub fn parse_when(text: &str, now: DateTime<Local>) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    let local = |naive: NaiveDateTime| {
        Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.timestamp_millis())
            .ok_or_else(|| format!("{text} does not exist in the local time zone"))
    };
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return local(naive);
        }
    }
    if let Ok(time) = NaiveTime::parse_from_str(text, "%H:%M") {
        let today: NaiveDate = now.date_naive();
        let at = local(today.and_time(time))?;
        if at > now.timestamp_millis() {
            return Ok(at);
        }
        let tomorrow = today.succ_opt().ok_or("no day after today")?;
        return local(tomorrow.and_time(time));
    }
    Err(format!(
        "cannot read the time {text:?}: give HH:MM, YYYY-MM-DD HH:MM (local time) or an \
         RFC 3339 time such as 2026-12-04T19:30:00+08:00"
    ))
}

/// `YYYY-MM-DD HH:MM +hh:mm`, local time.
pub fn local(ms: i64) -> String {
    Local.timestamp_millis_opt(ms).single().map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M %:z").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_every_accepted_form() {
        let now = Local.with_ymd_and_hms(2026, 12, 4, 18, 0, 0).unwrap();
        let ms = |y, mo, d, h, mi| {
            Local
                .with_ymd_and_hms(y, mo, d, h, mi, 0)
                .unwrap()
                .timestamp_millis()
        };
        assert_eq!(
            parse_when("2026-12-04T19:30:00+08:00", now).unwrap(),
            DateTime::parse_from_rfc3339("2026-12-04T11:30:00Z")
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(
            parse_when("2026-12-05 07:15", now).unwrap(),
            ms(2026, 12, 5, 7, 15)
        );
        assert_eq!(parse_when("19:30", now).unwrap(), ms(2026, 12, 4, 19, 30));
        // Passed today: tomorrow.
        assert_eq!(parse_when("07:00", now).unwrap(), ms(2026, 12, 5, 7, 0));
        let err = parse_when("soon", now).unwrap_err();
        assert!(err.contains("HH:MM"), "{err}");
    }
}
