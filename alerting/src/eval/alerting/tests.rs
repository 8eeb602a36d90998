//! The state machine against the timelines pinned with Prometheus 2.42
//! (`alerting/docs/semantics.md` §2.2, §2.3, §3.1).

use super::*;

const S: i64 = 1_000_000_000;

fn rule(hold_s: u64, keep_s: u64) -> AlertingRule {
    AlertingRule {
        name: "A".into(),
        expr: "m > 0".into(),
        hold: Duration::from_secs(hold_s),
        keep_firing_for: Duration::from_secs(keep_s),
        labels: vec![("severity".into(), "page".into())],
        annotations: vec![(
            "summary".into(),
            "m on {{ $labels.inst }} = {{ $value }}".into(),
        )],
        active: HashMap::new(),
        restored: true,
    }
}

fn sample(inst: &str, v: f64) -> Sample {
    Sample {
        labels: vec![
            ("__name__".into(), "m".into()),
            ("inst".into(), inst.into()),
        ],
        value: v,
    }
}

fn only(r: &AlertingRule) -> &Alert {
    assert_eq!(r.active.len(), 1, "{:?}", r.active);
    r.active.values().next().unwrap()
}

fn names(out: &[OutSample]) -> Vec<String> {
    let mut v: Vec<String> = out
        .iter()
        .map(|s| {
            format!(
                "{}{}",
                s.labels.get("__name__").unwrap_or(""),
                s.labels
                    .get("alertstate")
                    .map(|x| format!("/{x}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn pending_then_firing_after_for_then_resolved() {
    let ctx = Context::default();
    let mut r = rule(10, 0);
    let out = r.eval(0, vec![sample("a", 3.0)], &ctx, 0).unwrap();
    let a = only(&r);
    assert_eq!((a.state, a.active_at), (AlertState::Pending, 0));
    assert_eq!(a.annotations, vec![("summary".into(), "m on a = 3".into())]);
    assert_eq!(a.labels.get("alertname"), Some("A"));
    assert_eq!(a.labels.get("__name__"), None);
    assert_eq!(names(&out), ["ALERTS/pending", "ALERTS_FOR_STATE"]);
    r.eval(5 * S, vec![sample("a", 4.0)], &ctx, 0).unwrap();
    assert_eq!(only(&r).state, AlertState::Pending);
    // `for` reached exactly: fires (>=, not >).
    let out = r.eval(10 * S, vec![sample("a", 5.0)], &ctx, 0).unwrap();
    let a = only(&r);
    assert_eq!((a.state, a.fired_at), (AlertState::Firing, Some(10 * S)));
    assert_eq!(a.annotations[0].1, "m on a = 5");
    assert_eq!(names(&out), ["ALERTS/firing", "ALERTS_FOR_STATE"]);
    // ALERTS_FOR_STATE holds ActiveAt in whole seconds.
    let fs = out
        .iter()
        .find(|s| s.labels.get("__name__") == Some("ALERTS_FOR_STATE"))
        .unwrap();
    assert_eq!(fs.value, 0.0);
    assert_eq!(fs.labels.get("severity"), Some("page"));
    // Gone: resolved, kept (as inactive) but not written.
    let out = r.eval(15 * S, vec![], &ctx, 0).unwrap();
    let a = only(&r);
    assert_eq!(
        (a.state, a.resolved_at),
        (AlertState::Inactive, Some(15 * S))
    );
    assert!(out.is_empty());
    // Kept for 15 minutes after resolution, then dropped.
    r.eval(15 * S + 15 * 60 * S, vec![], &ctx, 0).unwrap();
    assert_eq!(r.active.len(), 1);
    r.eval(15 * S + 15 * 60 * S + S, vec![], &ctx, 0).unwrap();
    assert!(r.active.is_empty());
}

#[test]
fn pending_alert_that_goes_away_is_dropped_and_for_zero_fires_at_once() {
    let ctx = Context::default();
    let mut r = rule(60, 0);
    r.eval(0, vec![sample("a", 1.0)], &ctx, 0).unwrap();
    r.eval(5 * S, vec![], &ctx, 0).unwrap();
    assert!(r.active.is_empty());
    let mut r = rule(0, 0);
    let out = r.eval(0, vec![sample("a", 1.0)], &ctx, 0).unwrap();
    assert_eq!(only(&r).state, AlertState::Firing);
    assert_eq!(names(&out), ["ALERTS/firing", "ALERTS_FOR_STATE"]);
}

#[test]
fn keep_firing_for_holds_a_firing_alert() {
    // 5 s interval, keep_firing_for 10 s: still firing 5 s after the condition stops,
    // resolved at 10 s (10 s is not < 10 s).
    let ctx = Context::default();
    let mut r = rule(0, 10);
    r.eval(0, vec![sample("a", 1.0)], &ctx, 0).unwrap();
    let out = r.eval(5 * S, vec![], &ctx, 0).unwrap();
    let a = only(&r);
    assert_eq!(
        (a.state, a.keep_firing_since),
        (AlertState::Firing, Some(5 * S))
    );
    assert_eq!(names(&out), ["ALERTS/firing", "ALERTS_FOR_STATE"]);
    r.eval(10 * S, vec![], &ctx, 0).unwrap();
    assert_eq!(only(&r).state, AlertState::Firing);
    r.eval(15 * S, vec![], &ctx, 0).unwrap();
    assert_eq!(only(&r).resolved_at, Some(15 * S));
    // The condition coming back clears keep_firing_since.
    let mut r = rule(0, 10);
    r.eval(0, vec![sample("a", 1.0)], &ctx, 0).unwrap();
    r.eval(5 * S, vec![], &ctx, 0).unwrap();
    r.eval(10 * S, vec![sample("a", 1.0)], &ctx, 0).unwrap();
    assert_eq!(only(&r).keep_firing_since, None);
}

#[test]
fn limit_and_duplicate_label_sets_are_errors_that_reset_state() {
    let ctx = Context::default();
    let mut r = rule(60, 0);
    let e = r
        .eval(0, vec![sample("a", 1.0), sample("b", 1.0)], &ctx, 1)
        .unwrap_err();
    assert_eq!(e, "exceeded limit of 1 with 2 alerts");
    assert!(r.active.is_empty());
    let mut r = rule(0, 0);
    r.labels.push(("inst".into(), "same".into()));
    let e = r
        .eval(0, vec![sample("a", 1.0), sample("b", 1.0)], &ctx, 0)
        .unwrap_err();
    assert_eq!(
        e,
        "vector contains metrics with the same labelset after applying alert labels"
    );
}

#[test]
fn nothing_is_written_before_restore() {
    let ctx = Context::default();
    let mut r = rule(0, 0);
    r.restored = false;
    assert!(
        r.eval(0, vec![sample("a", 1.0)], &ctx, 0)
            .unwrap()
            .is_empty()
    );
    assert_eq!(only(&r).state, AlertState::Firing);
}

#[test]
fn resend_cadence_is_strictly_after_the_delay() {
    // Pinned: with a 5 s interval Prometheus re-sends every 65 s.
    let ctx = Context::default();
    let mut r = rule(0, 0);
    let delay = Duration::from_secs(60);
    let mut sent = Vec::new();
    for i in 0..30 {
        let ts = i * 5 * S;
        r.eval(ts, vec![sample("a", 1.0)], &ctx, 0).unwrap();
        let a = r.active.values_mut().next().unwrap();
        if a.needs_sending(ts, delay) {
            a.last_sent_at = Some(ts);
            sent.push(ts / S);
        }
    }
    assert_eq!(sent, [0, 65, 130]);
    // A resolution goes out at once.
    r.eval(150 * S, vec![], &ctx, 0).unwrap();
    assert!(
        r.active
            .values()
            .next()
            .unwrap()
            .needs_sending(150 * S, delay)
    );
}
