//! Reports: the information radius.

use super::*;

#[test]
fn reports_inform_cells_within_the_radius() {
    let g = square_grid();
    let m = middle(&g);
    let mut ev = Events::default();
    let mut push = |xy: [f64; 2], t: i64| {
        let [lon, lat] = lonlat(&g, xy);
        ev.push("r".into(), lon, lat, t, 1.0, "other".into(), String::new());
    };
    push(off(m, 300.0, -200.0), T0 + H); // in the middle cell
    push(off(m, 2_400.0, 0.0), T0 + 2 * H); // two cells east
    push(off(m, 0.0, 0.0), T0 - 1); // before the window
    push([1e9, 1e9], T0 + H); // nowhere: outside the grid
    let par = params(T0, T0 + DAY);
    let cov = coverage(&g, &Presence::default(), &ev, &par).unwrap();
    assert_eq!((cov.reports_used, cov.reports_outside), (2, 1));
    let (c1, c2) = (
        g.cells[cell_at(&g, m)].xy,
        g.cells[cell_at(&g, off(m, 2_000.0, 0.0))].xy,
    );
    for (i, c) in g.cells.iter().enumerate() {
        let n = u32::from(dist(c.xy, c1) <= 5_000.0) + u32::from(dist(c.xy, c2) <= 5_000.0);
        assert_eq!(cov.cells[i].reports, n, "{}", c.key);
        let last = if dist(c.xy, c2) <= 5_000.0 {
            Some(T0 + 2 * H)
        } else if n > 0 {
            Some(T0 + H)
        } else {
            None
        };
        assert_eq!(cov.cells[i].last_report, last);
    }
    // Reports outside the grid's cells are counted apart.
    ev.push(
        "far".into(),
        30.0,
        10.0,
        T0 + H,
        1.0,
        "other".into(),
        String::new(),
    );
    let cov = coverage(&g, &Presence::default(), &ev, &par).unwrap();
    assert_eq!((cov.reports_used, cov.reports_outside), (2, 2));
    // A radius of 0: each report informs its own cell only.
    let own = CoverageParams {
        info_radius_m: 0.0,
        ..par
    };
    let cov = coverage(&g, &Presence::default(), &ev, &own).unwrap();
    assert_eq!(cov.cells.iter().map(|c| c.reports).sum::<u32>(), 2);
    assert_eq!(cov.cells[cell_at(&g, m)].reports, 1);
}

/// A report of an event that began before the window and lasts into it
/// informs as recently as its last moment within the window; one that ended
/// before the window does not inform.
#[test]
fn reports_count_while_their_event_lasts() {
    let g = square_grid();
    let m = middle(&g);
    let [lon, lat] = lonlat(&g, m);
    let mut ev = Events::default();
    ev.push(
        "long".into(),
        lon,
        lat,
        T0 - 3 * DAY,
        1.0,
        "other".into(),
        String::new(),
    );
    ev.set_last_end(T0 + 2 * DAY);
    ev.push(
        "over".into(),
        lon,
        lat,
        T0 - 3 * DAY,
        1.0,
        "other".into(),
        String::new(),
    );
    ev.set_last_end(T0 - 1);
    let par = params(T0, T0 + DAY);
    let cov = coverage(&g, &Presence::default(), &ev, &par).unwrap();
    assert_eq!(cov.reports_used, 1);
    let c = &cov.cells[cell_at(&g, m)];
    assert_eq!(c.reports, 1);
    // Its last moment in the window is the window's end.
    assert_eq!(c.last_report, Some(T0 + DAY));
}
