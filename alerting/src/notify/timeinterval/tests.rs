use super::*;

fn interval(yaml: &str) -> Result<TimeInterval, String> {
    let cfg: TimeIntervalConfig = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
    cfg.compile()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// Whether the interval written as `yaml` holds each instant.
fn holds(yaml: &str, instants: &[(&str, bool)]) {
    let i = interval(yaml).unwrap();
    for (t, want) in instants {
        assert_eq!(i.contains(at(t)), *want, "{yaml} at {t}");
    }
}

#[test]
fn entries_are_checked_with_alertmanagers_messages() {
    for (yaml, want) in [
        (
            "times: [{start_time: '25:00', end_time: '26:00'}]",
            "couldn't parse timestamp 25:00, invalid format",
        ),
        (
            "times: [{start_time: '9:00', end_time: '17:00'}]",
            "couldn't parse timestamp 9:00, invalid format",
        ),
        (
            "times: [{start_time: '24:01', end_time: '24:00'}]",
            "couldn't parse timestamp 24:01, invalid format",
        ),
        (
            "times: [{start_time: '17:00', end_time: '09:00'}]",
            "start time cannot be equal or greater than end time",
        ),
        (
            "times: [{start_time: '09:00', end_time: '09:00'}]",
            "start time cannot be equal or greater than end time",
        ),
        (
            "times: [{start_time: '09:00'}]",
            "both start and end times must be provided",
        ),
        ("weekdays: ['Moonday']", "moonday is not a valid weekday"),
        (
            "weekdays: ['friday:monday']",
            "start day cannot be before end day",
        ),
        (
            "weekdays: ['monday:tuesday:friday']",
            "couldn't parse range monday:tuesday:friday, invalid format",
        ),
        (
            "days_of_month: [0]",
            "0 is not a valid day of the month: out of range",
        ),
        (
            "days_of_month: ['1:32']",
            "32 is not a valid day of the month: out of range",
        ),
        (
            "days_of_month: ['-32:-1']",
            "-32 is not a valid day of the month: out of range",
        ),
        (
            "days_of_month: ['-3:5']",
            "end day must be negative if start day is negative",
        ),
        (
            "days_of_month: ['10:-25']",
            "end day -25 is always before start day 10",
        ),
        (
            "days_of_month: ['first']",
            "strconv.Atoi: parsing \"first\": invalid syntax",
        ),
        ("months: ['smarch']", "smarch is not a valid month"),
        (
            "months: ['december:january']",
            "end month january is before start month december",
        ),
        (
            "years: ['2022:2020']",
            "end year 2020 is before start year 2022",
        ),
        (
            "location: 'Mars/Olympus_Mons'",
            "unknown time zone Mars/Olympus_Mons",
        ),
        ("location: '../etc/passwd'", "time: invalid location name"),
    ] {
        assert_eq!(interval(yaml).unwrap_err(), want, "{yaml}");
    }
    let e = interval("weekdays: [monday]\nbogus: 1").unwrap_err();
    assert!(e.contains("bogus"), "{e}");
    for ok in [
        "{}",
        "times: [{start_time: '00:00', end_time: '24:00'}]",
        "weekdays: ['Monday:FRIDAY', sunday]",
        "days_of_month: [1, '-1', '1:-1', '-31:-1', '3:31']",
        "months: ['1:3', 'may', '12']",
        "years: [2020, '2021:2030']",
        "location: Local",
        "location: UTC",
        "location: 'America/New_York'",
    ] {
        assert!(interval(ok).is_ok(), "{ok}: {:?}", interval(ok));
    }
}

#[test]
fn weekday_ranges_are_inclusive() {
    // 2024-01-01 was a Monday.
    holds(
        "weekdays: ['monday:friday']",
        &[
            ("2024-01-05T23:59:59Z", true),
            ("2024-01-06T00:00:00Z", false),
            ("2024-01-07T12:00:00Z", false),
            ("2024-01-08T00:00:00Z", true),
        ],
    );
    holds(
        "weekdays: [saturday, Sunday]",
        &[
            ("2024-01-06T12:00:00Z", true),
            ("2024-01-07T12:00:00Z", true),
            ("2024-01-08T12:00:00Z", false),
        ],
    );
}

#[test]
fn negative_days_count_from_the_months_end() {
    holds(
        "days_of_month: ['-1']",
        &[
            ("2024-02-29T12:00:00Z", true),
            ("2024-02-28T12:00:00Z", false),
            ("2023-02-28T12:00:00Z", true),
            ("2024-04-30T12:00:00Z", true),
            ("2024-01-31T12:00:00Z", true),
            ("2024-01-30T12:00:00Z", false),
        ],
    );
    holds(
        "days_of_month: ['-7:-1']",
        &[
            ("2024-02-22T23:59:59Z", false),
            ("2024-02-23T00:00:00Z", true),
            ("2024-02-29T23:59:59Z", true),
            ("2024-03-01T00:00:00Z", false),
        ],
    );
    // Past the month's end: a range starting there holds nothing, one ending there is
    // cut at the last day.
    holds(
        "days_of_month: ['31']",
        &[
            ("2024-04-30T12:00:00Z", false),
            ("2024-05-31T12:00:00Z", true),
        ],
    );
    holds(
        "days_of_month: ['25:31', '1']",
        &[
            ("2023-02-28T12:00:00Z", true),
            ("2023-02-24T12:00:00Z", false),
            ("2023-03-01T12:00:00Z", true),
        ],
    );
}

#[test]
fn months_and_years() {
    holds(
        "months: ['january:march', '11', December]",
        &[
            ("2024-02-15T00:00:00Z", true),
            ("2024-04-01T00:00:00Z", false),
            ("2024-11-30T23:59:59Z", true),
            ("2024-12-01T00:00:00Z", true),
            ("2024-10-31T23:59:59Z", false),
        ],
    );
    holds(
        "years: ['2020:2022', 2030]",
        &[
            ("2019-12-31T23:59:59Z", false),
            ("2020-01-01T00:00:00Z", true),
            ("2022-12-31T23:59:59Z", true),
            ("2023-06-01T00:00:00Z", false),
            ("2030-06-01T00:00:00Z", true),
        ],
    );
}

#[test]
fn times_include_their_start_and_exclude_their_end() {
    holds(
        "times: [{start_time: '09:00', end_time: '17:00'}]",
        &[
            ("2024-01-08T08:59:59Z", false),
            ("2024-01-08T09:00:00Z", true),
            ("2024-01-08T16:59:59Z", true),
            ("2024-01-08T17:00:00Z", false),
        ],
    );
    holds(
        "times: [{start_time: '22:00', end_time: '24:00'}, {start_time: '00:00', end_time: '01:00'}]",
        &[
            ("2024-01-08T21:59:59Z", false),
            ("2024-01-08T22:00:00Z", true),
            ("2024-01-08T23:59:59Z", true),
            ("2024-01-09T00:30:00Z", true),
            ("2024-01-09T01:00:00Z", false),
        ],
    );
}

#[test]
fn fields_are_read_in_the_location() {
    // Sydney is UTC+11 in January (daylight time), UTC+10 in July.
    let business = "times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']\nlocation: Australia/Sydney";
    holds(
        business,
        &[
            ("2024-01-07T21:59:59Z", false),
            ("2024-01-07T22:00:00Z", true),
            ("2024-01-08T05:59:59Z", true),
            ("2024-01-08T06:00:00Z", false),
            ("2024-07-07T22:00:00Z", false),
            ("2024-07-07T23:00:00Z", true),
        ],
    );
    holds(
        "days_of_month: [1]\nlocation: Australia/Sydney",
        &[
            ("2024-01-31T13:00:00Z", true),
            ("2024-01-31T12:59:59Z", false),
        ],
    );
    holds(
        "days_of_month: [1]",
        &[
            ("2024-01-31T13:00:00Z", false),
            ("2024-02-01T00:00:00Z", true),
        ],
    );
    holds(
        "times: [{start_time: '00:00', end_time: '24:00'}]\nlocation: Local",
        &[("2024-01-31T13:00:00Z", true)],
    );
}

#[test]
fn a_spring_forward_month_is_a_day_short_as_in_alertmanager_0_25() {
    // Amsterdam's clocks go forward on 2024-03-31: Alertmanager 0.25 counts 30 days in
    // that March, so `-1` is the 30th there.
    holds(
        "days_of_month: ['-1']\nlocation: Europe/Amsterdam",
        &[
            ("2024-03-30T12:00:00Z", true),
            ("2024-03-31T12:00:00Z", false),
            ("2024-04-30T12:00:00Z", true),
            ("2024-10-31T12:00:00Z", true),
        ],
    );
}

#[test]
fn absent_fields_match_everything_and_empty_lists_nothing() {
    holds("{}", &[("2024-01-08T12:00:00Z", true)]);
    holds("weekdays: []", &[("2024-01-08T12:00:00Z", false)]);
    holds(
        "weekdays: ~\nmonths: [january]",
        &[("2024-01-08T12:00:00Z", true)],
    );
}

#[test]
fn a_route_is_muted_in_a_mute_interval_or_outside_all_its_active_ones() {
    let weekend: Intervals = vec![interval("weekdays: ['saturday', 'sunday']").unwrap()].into();
    let nights: Intervals = vec![
        interval("times: [{start_time: '00:00', end_time: '06:00'}]").unwrap(),
        interval("times: [{start_time: '22:00', end_time: '24:00'}]").unwrap(),
    ]
    .into();
    let saturday_noon = at("2024-01-06T12:00:00Z");
    let monday_noon = at("2024-01-08T12:00:00Z");
    let monday_night = at("2024-01-08T23:00:00Z");
    let none = RouteTimes::default();
    assert!(!none.mutes(saturday_noon));
    let mute = RouteTimes {
        mute: vec![weekend.clone(), nights.clone()],
        active: Vec::new(),
    };
    assert!(mute.mutes(saturday_noon));
    assert!(mute.mutes(monday_night));
    assert!(!mute.mutes(monday_noon));
    let active = RouteTimes {
        mute: Vec::new(),
        active: vec![nights.clone()],
    };
    assert!(active.mutes(monday_noon));
    assert!(!active.mutes(monday_night));
    // Mute wins over active.
    let both = RouteTimes {
        mute: vec![weekend],
        active: vec![nights],
    };
    assert!(both.mutes(at("2024-01-06T23:00:00Z")));
    assert!(!both.mutes(monday_night));
}
