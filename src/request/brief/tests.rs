use super::cells::centre;
use super::*;

#[test]
fn the_priority_grid_is_the_product_of_likelihood_and_impact() {
    let expect = [
        ((1, 1), Priority::Low),
        ((1, 2), Priority::Low),
        ((2, 1), Priority::Low),
        ((1, 3), Priority::Medium),
        ((3, 1), Priority::Medium),
        ((2, 2), Priority::Medium),
        ((2, 3), Priority::High),
        ((3, 2), Priority::High),
        ((3, 3), Priority::Top),
    ];
    for ((l, i), p) in expect {
        assert_eq!(Priority::grid(l, i), p, "{l} x {i}");
    }
    // Out of range is held to the grid.
    assert_eq!(Priority::grid(0, 9), Priority::Medium);
    assert!(Priority::Top > Priority::High && Priority::High > Priority::Medium);
}

#[test]
fn kinds_parse_by_name_only() {
    for k in BriefKind::ALL {
        assert_eq!(k.as_str().parse::<BriefKind>(), Ok(k));
    }
    assert!("weekly".parse::<BriefKind>().is_err());
    assert!("".parse::<BriefKind>().is_err());
}

#[test]
fn cells_match_by_overlap_and_weigh_by_share() {
    let ring = vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]];
    assert_eq!(centre(&ring), [0.5, 0.5]);
    let mut item = Item {
        id: Field::Null,
        geometry: Shape::Cell(ring),
        properties: vec![("presence", Field::Value(0.25))],
    };
    let p = Product {
        items: vec![item.clone()],
        ..Product::new("coverage")
    };
    let c = cells(&p, "presence");
    assert_eq!(c[0].0.value, 0.25);
    let same = c[0].0.ring.clone();
    assert!(matching(&c, &same).is_some());
    assert!((weighted(&c, &same) - 0.25).abs() < 1e-12);
    // Shifted by 0.6: 40 % covered, no match, 40 % of the value.
    let shifted: Vec<[f64; 2]> = same.iter().map(|p| [p[0] + 0.6, p[1]]).collect();
    assert!(matching(&c, &shifted).is_none());
    assert!((weighted(&c, &shifted) - 0.1).abs() < 1e-9);
    // Shifted by 0.3: 70 % covered, a match.
    let near: Vec<[f64; 2]> = same.iter().map(|p| [p[0] + 0.3, p[1]]).collect();
    assert!(matching(&c, &near).is_some());
    let far: Vec<[f64; 2]> = same.iter().map(|p| [p[0] + 2.0, p[1]]).collect();
    assert_eq!(weighted(&c, &far), 0.0);
    assert!(weighted(&c, &far).is_sign_positive(), "written as -0");
    item.geometry = Shape::Point([0.5, 0.5]);
    let p = Product {
        items: vec![item],
        ..Product::new("coverage")
    };
    assert!(cells(&p, "presence").is_empty());
}

#[test]
fn weekly_tiers_order_intensifying_new_persistent() {
    assert!(weekly_tier("intensifying-hot") > weekly_tier("new-hot"));
    assert!(weekly_tier("new-hot") > weekly_tier("persistent-hot"));
    assert_eq!(weekly_tier("sporadic-hot"), 0.0);
}
