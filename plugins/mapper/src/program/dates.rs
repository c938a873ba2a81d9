//! Calendar dates without a clock or time zone: parse `YYYY-MM-DD` as Python's
//! `strptime("%Y-%m-%d")` does, add days, weekday (Monday = 0), format back.

/// A day as the number of days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day(i64);

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl Day {
    /// `YYYY-MM-DD` (a four-digit year; month and day of one or two digits), a real date.
    pub fn parse(text: &str) -> Option<Day> {
        let mut parts = text.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || !(1..=2).contains(&m.len()) || !(1..=2).contains(&d.len()) {
            return None;
        }
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !(all_digits(y) && all_digits(m) && all_digits(d)) {
            return None;
        }
        let (year, month, day): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
        if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        Some(Day::from_civil(year, month, day))
    }

    /// Howard Hinnant's `days_from_civil`.
    fn from_civil(year: i64, month: u32, day: u32) -> Day {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (i64::from(month) + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Day(era * 146_097 + doe - 719_468)
    }

    /// Howard Hinnant's `civil_from_days`.
    fn to_civil(self) -> (i64, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    pub fn plus_days(self, days: i64) -> Day {
        Day(self.0 + days)
    }

    /// Python's `date.weekday()`: Monday is 0, Sunday 6.
    pub fn weekday(self) -> i64 {
        (self.0 + 3).rem_euclid(7)
    }

    /// `YYYY-MM-DD`.
    pub fn format(self) -> String {
        let (y, m, d) = self.to_civil();
        format!("{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_formats_and_counts_days() {
        let day = Day::parse("2026-03-02").unwrap();
        assert_eq!(day.format(), "2026-03-02");
        assert_eq!(day.weekday(), 0, "2 March 2026 is a Monday");
        assert_eq!(day.plus_days(6).format(), "2026-03-08");
        assert_eq!(Day::parse("2024-2-29").unwrap().plus_days(1).format(), "2024-03-01");
        assert_eq!(Day::parse("1970-01-01").unwrap(), Day(0));
        assert_eq!(Day::parse("2025-12-31").unwrap().plus_days(1).format(), "2026-01-01");
        for bad in ["2026-02-29", "2026-13-01", "26-03-02", "2026-03-02T00", "2026/03/02", "", "2026-03-"] {
            assert!(Day::parse(bad).is_none(), "{bad}");
        }
    }
}
