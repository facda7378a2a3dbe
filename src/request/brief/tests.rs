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
fn a_cell_holds_its_centre_and_not_its_neighbours() {
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
    assert!(holding(&c, [0.5, 0.5]).is_some());
    assert!(holding(&c, [1.5, 0.5]).is_none());
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
