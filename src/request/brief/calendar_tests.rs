use super::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const GOOD: &str = r#"
[places]
Bouar = [15.60, 5.93]

[[trigger]]
name = "Polling day"
kind = "election"
date = 2026-02-15
place = "Bouar"
note = "first round"

[[trigger]]
name = "Campaign"
kind = "election"
from = "2026-01-20"
to = "2026-02-13"

[[trigger]]
name = "Transhumance south"
kind = "transhumance"
yearly = { from = "12-01", to = "03-15" }
bbox = [15.5, 5.5, 16.5, 6.5]

[[trigger]]
name = "Bouar market"
kind = "market"
weekly = "tuesday"
place = "Bouar"
"#;

#[test]
fn a_good_calendar_parses_every_form() {
    let c = Calendar::parse(GOOD).unwrap();
    assert_eq!(c.triggers.len(), 4);
    let t = &c.triggers[0];
    assert_eq!(t.kind, TriggerKind::Election);
    assert_eq!(t.when, When::Day(d("2026-02-15")));
    assert_eq!(
        t.area,
        Where::Place {
            name: "Bouar".into(),
            at: [15.60, 5.93]
        }
    );
    assert_eq!(t.note.as_deref(), Some("first round"));
    assert_eq!(
        c.triggers[1].when,
        When::Range(d("2026-01-20"), d("2026-02-13"))
    );
    assert_eq!(
        c.triggers[2].when,
        When::Yearly(
            MonthDay { month: 12, day: 1 },
            MonthDay { month: 3, day: 15 }
        )
    );
    assert_eq!(c.triggers[3].when, When::Weekly(Weekday::Tue));
    assert_eq!(c.triggers[1].area, Where::Everywhere);
    assert_eq!(Calendar::parse("").unwrap(), Calendar::default());
}

/// The message of the error for one entry `body` (with the places above).
fn fault(body: &str) -> String {
    let text = format!("[places]\nBouar = [15.6, 5.93]\n[[trigger]]\n{body}\n");
    match Calendar::parse(&text) {
        Err(e) => e.to_string(),
        Ok(c) => panic!("accepted: {body}: {c:?}"),
    }
}

#[test]
fn every_malformed_entry_is_named_with_its_field() {
    let n = "name = \"X\"\nkind = \"market\"\n";
    for (body, field, reason) in [
        // Bad dates.
        (format!("{n}date = \"2026-02-30\""), "date", "not a date"),
        (format!("{n}date = \"15/02/2026\""), "date", "not a date"),
        (
            format!("{n}date = 2026-02-15T10:00:00"),
            "date",
            "expected a date",
        ),
        (
            format!("{n}from = \"2026-13-01\"\nto = \"2026-12-01\""),
            "from",
            "not a date",
        ),
        (
            format!("{n}yearly = {{ from = \"02-30\", to = \"03-01\" }}"),
            "yearly.from",
            "month and day",
        ),
        (
            format!("{n}yearly = {{ from = \"2-3\", to = \"03-01\" }}"),
            "yearly.from",
            "month and day",
        ),
        (
            format!("{n}weekly = \"mardi\""),
            "weekly",
            "day of the week",
        ),
        // Unknown kind.
        (
            "name = \"X\"\nkind = \"riot\"\ndate = \"2026-01-01\"".into(),
            "kind",
            "unknown kind",
        ),
        (
            "name = \"X\"\ndate = \"2026-01-01\"".into(),
            "kind",
            "missing",
        ),
        // Inverted range.
        (
            format!("{n}from = \"2026-03-01\"\nto = \"2026-02-01\""),
            "to",
            "inverted",
        ),
        (format!("{n}from = \"2026-03-01\""), "to", "missing"),
        // Unknown fields.
        (
            format!("{n}date = \"2026-01-01\"\nwhere = \"Bouar\""),
            "where",
            "unknown field",
        ),
        (
            format!("{n}yearly = {{ from = \"01-01\", until = \"02-01\" }}"),
            "yearly.until",
            "unknown field",
        ),
        // Other faults.
        (
            format!("{n}date = \"2026-01-01\"\nweekly = \"monday\""),
            "weekly",
            "only one",
        ),
        (n.to_string(), "date", "missing"),
        (
            format!("{n}date = \"2026-01-01\"\nplace = \"Paris\""),
            "place",
            "not in the [places]",
        ),
        (
            format!("{n}date = \"2026-01-01\"\nbbox = [16, 6, 15, 7]"),
            "bbox",
            "min <= max",
        ),
        (
            format!("{n}date = \"2026-01-01\"\nbbox = [16, 6, 15]"),
            "bbox",
            "4 numbers",
        ),
        (
            "kind = \"market\"\ndate = \"2026-01-01\"".into(),
            "name",
            "missing",
        ),
    ] {
        let m = fault(&body);
        assert!(
            m.contains(&format!("field {field:?}")) && m.contains(reason),
            "{body}: {m}"
        );
        assert!(m.contains("entry 1"), "{m}");
    }
    // The entry's name is in the message, and its number counts from 1.
    let text = format!(
        "{}\n[[trigger]]\nname = \"Late\"\nkind = \"season\"\ndate = \"x\"\n",
        GOOD
    );
    let m = Calendar::parse(&text).unwrap_err().to_string();
    assert!(m.contains("entry 5 (\"Late\")"), "{m}");
    assert!(matches!(
        Calendar::parse("[[trigger]\n"),
        Err(CalendarError::Syntax(_))
    ));
    assert!(matches!(
        Calendar::parse("[elections]\n"),
        Err(CalendarError::UnknownTable(t)) if t == "elections"
    ));
    assert!(matches!(
        Calendar::parse("[places]\nBouar = [215.6, 5.9]\n"),
        Err(CalendarError::Place { name, .. }) if name == "Bouar"
    ));
}

#[test]
fn the_window_is_the_next_three_months() {
    assert_eq!(window(d("2025-11-30")), (d("2025-12-01"), d("2026-02-28")));
    assert_eq!(window(d("2025-12-31")), (d("2026-01-01"), d("2026-03-31")));
}

#[test]
fn a_yearly_range_recurs_across_the_year_boundary() {
    let c = Calendar::parse(GOOD).unwrap();
    let trans = &c.triggers[2];
    // As of 2025-12-31: the range that began on 2025-12-01 runs to
    // 2026-03-15; within the window, 1 January to 15 March: 74 days.
    let (a, b) = window(d("2025-12-31"));
    let o = trans.falls_in(a, b).unwrap();
    assert_eq!((o.first, o.last), (d("2025-12-01"), d("2026-03-15")));
    assert_eq!(o.days, 31 + 28 + 15);
    // As of 2026-08-31 (window September to November): not in it.
    let (a, b) = window(d("2026-08-31"));
    assert_eq!(trans.falls_in(a, b), None);
    // As of 2026-10-15 (window to 15 January 2027): the next one starts.
    let (a, b) = window(d("2026-10-15"));
    let o = trans.falls_in(a, b).unwrap();
    assert_eq!((o.first, o.last), (d("2026-12-01"), d("2027-03-15")));
    assert_eq!(o.days, 31 + 15);
    // 29 February in a common year is the 28th.
    let leap = Calendar::parse(
        "[[trigger]]\nname = \"L\"\nkind = \"season\"\nyearly = { from = \"02-29\", to = \"02-29\" }\n",
    )
    .unwrap();
    let o = leap.triggers[0]
        .falls_in(d("2027-01-01"), d("2027-12-31"))
        .unwrap();
    assert_eq!(o.first, d("2027-02-28"));
    let o = leap.triggers[0]
        .falls_in(d("2028-01-01"), d("2028-12-31"))
        .unwrap();
    assert_eq!(o.first, d("2028-02-29"));
}

#[test]
fn days_ranges_and_market_days_in_the_window() {
    let c = Calendar::parse(GOOD).unwrap();
    let (a, b) = window(d("2025-12-31"));
    assert_eq!(c.triggers[0].falls_in(a, b).unwrap().days, 1);
    assert_eq!(c.triggers[1].falls_in(a, b).unwrap().days, 25);
    // Tuesdays from 6 January to 31 March 2026: 13.
    let m = c.triggers[3].falls_in(a, b).unwrap();
    assert_eq!(
        (m.first, m.last, m.days),
        (d("2026-01-06"), d("2026-03-31"), 13)
    );
    // Polling day after the window.
    let (a, b) = window(d("2026-03-01"));
    assert_eq!(c.triggers[0].falls_in(a, b), None);
    // The day after the as-of date is the first of the window, the as-of
    // date itself is not in it.
    let (a, b) = window(d("2026-02-14"));
    assert!(c.triggers[0].falls_in(a, b).is_some());
    let (a, b) = window(d("2026-02-15"));
    assert!(c.triggers[0].falls_in(a, b).is_none());
}

#[test]
fn distance_to_a_place_or_a_bbox() {
    let c = Calendar::parse(GOOD).unwrap();
    assert_eq!(c.triggers[0].distance_m([15.60, 5.93]), Some(0.0));
    assert_eq!(c.triggers[2].distance_m([16.0, 6.0]), Some(0.0));
    // 0.1 degree of latitude north of the bbox: about 11.1 km.
    let m = c.triggers[2].distance_m([16.0, 6.6]).unwrap();
    assert!((m - 11_120.0).abs() < 30.0, "{m}");
    assert_eq!(c.triggers[1].distance_m([16.0, 6.0]), None);
}
