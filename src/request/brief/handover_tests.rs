//! The handover pack's rules on constructed gated products whose answers
//! the tests know.

use super::*;

fn square(x: f64, y: f64) -> Vec<[f64; 2]> {
    vec![
        [x, y],
        [x + 1.0, y],
        [x + 1.0, y + 1.0],
        [x, y + 1.0],
        [x, y],
    ]
}

fn trend_cell(key: &str, x: f64, pattern: &str, n: u64) -> Item {
    Item {
        id: Field::Key(key.into()),
        geometry: Shape::Cell(square(x, 0.0)),
        properties: vec![
            ("cell", Field::Key(key.into())),
            ("pattern", Field::Class(pattern.into())),
            (
                "count",
                Field::Count {
                    layer: Layer::Incidents,
                    n,
                },
            ),
            ("hot_steps", Field::Tally(3)),
        ],
    }
}

fn product(name: &'static str, items: Vec<Item>) -> Product {
    Product {
        items,
        ..Product::new(name)
    }
}

fn presence(x: f64, value: f64) -> Item {
    Item {
        id: Field::Null,
        geometry: Shape::Cell(square(x, 0.0)),
        properties: vec![("presence", Field::Value(value))],
    }
}

fn spot(kind: &str, rank: u64, x: f64) -> Item {
    let ring = square(x, 0.0);
    Item {
        id: Field::Null,
        geometry: Shape::Cells(geo_types::MultiPolygon(vec![super::super::cells::polygon(
            &ring,
        )])),
        properties: vec![
            ("kind", Field::Key(kind.into())),
            ("rank", Field::Tally(rank)),
        ],
    }
}

#[test]
fn hot_means_any_hot_pattern_but_historical() {
    for p in [
        "new-hot",
        "persistent-hot",
        "sporadic-hot",
        "diminishing-hot",
    ] {
        assert!(is_hot(p), "{p}");
    }
    for p in ["historical-hot", "new-cold", "no-pattern"] {
        assert!(!is_hot(p), "{p}");
    }
}

#[test]
fn hot_spots_emerge_persist_and_fade_by_overlap() {
    // Then: A (x 0) persistent, C (x 4) intensifying. Now: A persistent,
    // B (x 2) new, C historical; the now grid is shifted by a quarter cell,
    // which still matches.
    let then = product(
        "trends",
        vec![
            trend_cell("A0", 0.0, "persistent-hot", 40),
            trend_cell("C0", 4.0, "intensifying-hot", 30),
        ],
    );
    let now = product(
        "trends",
        vec![
            trend_cell("A1", 0.25, "persistent-hot", 50),
            trend_cell("B1", 2.0, "new-hot", 9),
            trend_cell("C1", 4.25, "historical-hot", 12),
        ],
    );
    let cov = product("coverage", vec![presence(0.25, 0.8)]);
    let blind = product("blindspots", vec![spot("threat", 1, 2.0)]);
    let mut h = Handover::default();
    h.compare_hot(&now, &then, Some(&cov), Some(&blind));
    let got: Vec<(&str, HotChange, &str, &str)> = h
        .hot
        .iter()
        .map(|x| (x.cell.as_str(), x.change, x.then.as_str(), x.now.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "A1",
                HotChange::Persisted,
                "persistent-hot",
                "persistent-hot"
            ),
            ("B1", HotChange::Emerged, "no-pattern", "new-hot"),
            ("C0", HotChange::Faded, "intensifying-hot", "historical-hot"),
        ]
    );
    assert_eq!(h.hot.iter().map(|x| x.label).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(h.hot[1].blind_now, Some(("threat".into(), 1)));
    assert!((h.hot[0].presence_now - 0.8).abs() < 1e-9);
    // What to know: A is covered, so no persistent-uncovered line; B
    // emerged inside a blind spot.
    let know = h.what_to_know();
    assert_eq!(know.len(), 1, "{know:?}");
    assert_eq!(
        (know[0].rule, know[0].subject.as_str()),
        ("emerged-blind", "B1")
    );
}

#[test]
fn what_to_know_names_at_most_five_persistent_uncovered_by_incidents() {
    let cells: Vec<Item> = (0..7)
        .map(|i| trend_cell(&format!("P{i}"), 2.0 * i as f64, "persistent-hot", 10 + i))
        .collect();
    let p = product("trends", cells);
    let mut h = Handover::default();
    h.compare_hot(&p, &p, None, None);
    assert!(h.hot.iter().all(|x| x.change == HotChange::Persisted));
    let know = h.what_to_know();
    let names: Vec<&str> = know.iter().map(|k| k.subject.as_str()).collect();
    assert_eq!(names, ["P6", "P5", "P4", "P3", "P2"]);
    assert!(know.iter().all(|k| k.rule == "persistent-uncovered"));
}

#[test]
fn blind_spots_are_new_persisting_or_closed_within_their_kind() {
    let then = product(
        "blindspots",
        vec![spot("threat", 1, 0.0), spot("information", 1, 4.0)],
    );
    // Threat at x 0.5 overlaps the old one; information at x 4 is now a
    // threat spot (another kind): the information spot closed and a new
    // threat spot opened; a new information spot at x 8.
    let now = product(
        "blindspots",
        vec![
            spot("threat", 1, 0.5),
            spot("threat", 2, 4.0),
            spot("information", 1, 8.0),
        ],
    );
    let mut h = Handover::default();
    h.compare_blind(Some(&then), Some(&now));
    let got: Vec<(BlindChange, &str, u64)> = h
        .blind
        .iter()
        .map(|b| (b.change, b.spot.kind.as_str(), b.spot.rank))
        .collect();
    assert_eq!(
        got,
        vec![
            (BlindChange::New, "information", 1),
            (BlindChange::New, "threat", 2),
            (BlindChange::Persisting, "threat", 1),
            (BlindChange::Closed, "information", 1),
        ]
    );
    let know = h.what_to_know();
    let names: Vec<&str> = know.iter().map(|k| k.subject.as_str()).collect();
    assert_eq!(names, ["information-1", "threat-2"]);
}

#[test]
fn coverage_is_gained_lost_or_kept_at_half_presence() {
    let then = product(
        "coverage",
        vec![presence(0.0, 0.9), presence(2.0, 0.6), presence(4.0, 0.2)],
    );
    let now = product(
        "coverage",
        vec![presence(0.0, 0.7), presence(2.0, 0.4), presence(4.0, 0.5)],
    );
    let mut h = Handover::default();
    h.compare_coverage(Some(&then), Some(&now));
    let got: Vec<(CoverChange, f64)> = h
        .coverage
        .iter()
        .map(|c| (c.change, c.ring[0][0]))
        .collect();
    assert_eq!(got, [(CoverChange::Gained, 4.0), (CoverChange::Lost, 2.0)]);
    assert_eq!(h.covered_kept, 1);
    // No base relation in either part: the role may not see bases.
    assert_eq!(h.bases, None);
}

#[test]
fn sightings_change_by_halves() {
    assert_eq!(SightChange::of(Some(0), Some(3)), SightChange::Appeared);
    assert_eq!(SightChange::of(Some(2), Some(0)), SightChange::Gone);
    assert_eq!(SightChange::of(Some(2), Some(5)), SightChange::Up);
    assert_eq!(SightChange::of(Some(5), Some(2)), SightChange::Down);
    assert_eq!(SightChange::of(Some(4), Some(4)), SightChange::Same);
    assert_eq!(SightChange::of(None, Some(4)), SightChange::Suppressed);
    let row = |cell: &str, step: &str, n: u64| -> Fields {
        vec![
            ("cell", Field::Key(cell.into())),
            ("step", Field::Key(step.into())),
            (
                "count",
                Field::Count {
                    layer: Layer::Sightings,
                    n,
                },
            ),
        ]
    };
    let mut p = product(
        "trends",
        vec![
            trend_cell("S1", 0.0, "no-pattern", 4),
            trend_cell("S2", 2.0, "no-pattern", 1),
            trend_cell("S3", 4.0, "no-pattern", 6),
        ],
    );
    p.tables.push((
        "series",
        vec![
            row("S1", "2025-01-01", 0),
            row("S1", "2025-04-01", 4),
            row("S2", "2025-01-01", 1),
            row("S2", "2025-04-01", 0),
            row("S3", "2025-01-01", 1),
            row("S3", "2025-04-01", 5),
        ],
    ));
    let cells = sight_cells(&p);
    let got: Vec<(&str, SightChange)> = cells.iter().map(|c| (c.cell.as_str(), c.change)).collect();
    assert_eq!(
        got,
        [
            ("S1", SightChange::Appeared),
            ("S2", SightChange::Gone),
            ("S3", SightChange::Up)
        ]
    );
    let h = Handover {
        sightings: cells,
        ..Handover::default()
    };
    let know = h.what_to_know();
    let rising: Vec<(&str, u64)> = know.iter().map(|k| (k.subject.as_str(), k.value)).collect();
    assert_eq!(rising, [("S1", 4), ("S3", 4)]);
}
