use super::*;
use crate::analysis::product::Fields;
use crate::model::Layer;

fn area(cell: &str, pattern: &str, count: u64, centre: [f64; 2]) -> Area {
    let [x, y] = centre;
    Area {
        cell: cell.into(),
        ring: vec![
            [x - 0.05, y - 0.05],
            [x + 0.05, y - 0.05],
            [x + 0.05, y + 0.05],
            [x - 0.05, y + 0.05],
            [x - 0.05, y - 0.05],
        ],
        centre,
        pattern: pattern.into(),
        previous: None,
        count: Field::Count {
            layer: Layer::Incidents,
            n: count,
        },
        hot_steps: 6,
        presence: 0.0,
        blind_spot: None,
        impact5: 1,
        sightings: None,
        status: None,
        likelihood: 0,
        impact: 0,
        priority: None,
        score: 0.0,
        rank: 0,
    }
}

#[test]
fn areas_rank_intensifying_new_persistent_then_count_then_key() {
    let mut a = vec![
        area("p-big", "persistent-hot", 90, [16.0, 6.0]),
        area("n-small", "new-hot", 5, [16.0, 6.0]),
        area("i-b", "intensifying-hot", 7, [16.0, 6.0]),
        area("i-a", "intensifying-hot", 7, [16.0, 6.0]),
        area("n-big", "new-hot", 50, [16.0, 6.0]),
    ];
    rank(&mut a);
    let order: Vec<&str> = a.iter().map(|a| a.cell.as_str()).collect();
    assert_eq!(order, ["i-a", "i-b", "n-big", "n-small", "p-big"]);
    assert_eq!(persistence(6, 12), 0.5);
    assert_eq!(persistence(3, 0), 0.0);
}

#[test]
fn triggers_in_the_window_name_the_hot_spots_near_them() {
    let cal = Calendar::parse(
        r#"
[places]
Bouar = [15.60, 5.93]
[[trigger]]
name = "Rains"
kind = "season"
yearly = { from = "05-01", to = "10-31" }
[[trigger]]
name = "Market"
kind = "market"
weekly = "friday"
place = "Bouar"
[[trigger]]
name = "Corridor"
kind = "transhumance"
yearly = { from = "12-15", to = "02-28" }
bbox = [16.0, 6.5, 16.5, 7.0]
[[trigger]]
name = "Vote"
kind = "election"
date = "2026-01-10"
"#,
    )
    .unwrap();
    // Rank 1 at Bouar, rank 2 10 km north of the corridor's box (0.09
    // degree), rank 3 far away.
    let areas = vec![
        area("a", "intensifying-hot", 9, [15.61, 5.93]),
        area("b", "new-hot", 9, [16.2, 7.09]),
        area("c", "new-hot", 9, [20.0, 5.0]),
    ];
    let as_of = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    let u = upcoming(&cal, as_of, &areas, 15.0);
    let names: Vec<&str> = u.iter().map(|u| u.trigger.name.as_str()).collect();
    // By first day in the window (the corridor began before it: the
    // window's first day), then name; the rains are not in the window.
    assert_eq!(names, ["Corridor", "Market", "Vote"]);
    assert_eq!(u[0].near, Some(vec![2]));
    assert_eq!(u[1].near, Some(vec![1]));
    assert_eq!(u[2].near, None, "a trigger of the whole area");
    assert_eq!(u[1].occurrence.days, 13, "Fridays 2 January to 27 March");
    // Nearer than 5 km only: nothing is near the corridor.
    let u = upcoming(&cal, as_of, &areas, 5.0);
    assert_eq!(u[0].near, Some(vec![]));
}

fn row(step: &str, value: f64, n: u64) -> Fields {
    vec![
        ("cell", Field::Key("c".into())),
        ("step", Field::Key(step.into())),
        (
            "count",
            Field::Count {
                layer: Layer::Incidents,
                n,
            },
        ),
        ("value", Field::Value(value)),
    ]
}

#[test]
fn a_two_step_part_sums_by_quarter() {
    let mut p = Product::new("trends");
    p.meta.extend([
        ("first_step_start", Field::param("2025-07-02T00:00:00Z")),
        ("step_days", Field::param(91.0)),
        ("cube_end", Field::param("2025-12-31T00:00:00Z")),
    ]);
    p.tables.push((
        "series",
        vec![
            row("2025-07-02T00:00:00Z", 2.0, 5),
            row("2025-10-01T00:00:00Z", 3.0, 6),
            row("2025-07-02T00:00:00Z", 1.5, 1),
            row("2025-10-01T00:00:00Z", 0.0, 0),
        ],
    ));
    let (v, n, b) = by_quarter(&p);
    assert_eq!(v, [3.5, 3.0]);
    assert_eq!(n, [6, 6]);
    assert_eq!(
        b.unwrap(),
        [
            "2025-07-02T00:00:00Z".to_string(),
            "2025-10-01T00:00:00Z".to_string(),
            "2025-12-31T00:00:00Z".to_string()
        ]
    );
    // An empty part (no event): zeros, no bounds.
    assert_eq!(
        by_quarter(&Product::new("trends")),
        ([0.0; 2], [0; 2], None)
    );
}
