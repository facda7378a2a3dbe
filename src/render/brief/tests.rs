use super::html::{document, escape, MAX_ROWS};
use super::map;
use super::{encode, BriefFormat};
use crate::analysis::product::Field;
use crate::model::Layer;
use crate::request::brief::{Area, Brief, BriefKind, BriefRequest, Lang, Priority, Status};

fn area(rank: usize, lon: f64) -> Area {
    let ring = vec![
        [lon, 6.0],
        [lon + 0.09, 6.0],
        [lon + 0.09, 6.09],
        [lon, 6.09],
        [lon, 6.0],
    ];
    Area {
        cell: format!("r1c{rank}"),
        centre: [lon + 0.045, 6.045],
        ring,
        pattern: "new-hot".into(),
        previous: Some("no-pattern".into()),
        count: Field::Count {
            layer: Layer::Incidents,
            n: 7,
        },
        hot_steps: 1,
        presence: 0.0,
        blind_spot: None,
        impact5: 4,
        sightings: Some(2),
        status: Some(Status::Alert),
        likelihood: 2,
        impact: 3,
        priority: Some(Priority::High),
        score: 2.0,
        rank,
    }
}

fn brief(kind: BriefKind, lang: Lang, areas: Vec<Area>, mission: &str) -> Brief {
    Brief {
        kind,
        request: BriefRequest {
            as_of: chrono::DateTime::parse_from_rfc3339("2025-12-31T23:59:59Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            lang,
            cell_km: 10.0,
            step_days: None,
            steps: 12,
            near_km: 15.0,
            bbox: None,
            mission: mission.into(),
            calendar: None,
            months: crate::request::brief::Months::Six,
            window_days: 90,
            min_risk: crate::analysis::threat::RiskLevel::High,
        },
        role: Some("partner".into()),
        areas,
        presence: Vec::new(),
        blind_spots: Vec::new(),
        sightings: Vec::new(),
        parts: Vec::new(),
        unavailable: Vec::new(),
        outlook: None,
        handover: None,
        threat_matrix: None,
    }
}

#[test]
fn text_is_escaped_everywhere_it_is_written() {
    assert_eq!(
        escape("<b a=\"1\">'&'</b>"),
        "&lt;b a=&quot;1&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
    );
    let b = brief(
        BriefKind::WeeklyHotspot,
        Lang::En,
        vec![area(1, 17.0)],
        "<script>alert(1)</script>",
    );
    let doc = document(&b).unwrap();
    assert!(!doc.contains("<script>"));
    assert!(doc.contains("&lt;script&gt;"));
}

#[test]
fn the_map_draws_each_area_under_its_rank() {
    let b = brief(
        BriefKind::EarlyWarning,
        Lang::Fr,
        vec![area(1, 17.0), area(2, 17.5)],
        "",
    );
    let img = map::draw(&b).unwrap().expect("a map");
    let pix = tiny_skia::Pixmap::decode_png(&img.png).unwrap();
    assert_eq!((pix.width(), pix.height()), (img.width, img.height));
    for (x, y, rank) in &img.labels {
        assert!((0.0..=1.0).contains(x) && (0.0..=1.0).contains(y), "{rank}");
        let px = pix
            .pixel(
                (x * f64::from(img.width)) as u32,
                (y * f64::from(img.height)) as u32,
            )
            .unwrap();
        // The high-priority red, not the background.
        assert!(px.red() > 150 && px.green() < 120, "{rank}: {px:?}");
    }
    let doc = document(&b).unwrap();
    assert!(doc.contains("data:image/png;base64,"));
    assert!(doc.contains(">1</span>") && doc.contains(">2</span>"));
    // Alerts apart from warnings: both sections, the empty one says so.
    assert!(doc.contains("Alertes (signalements non vérifiés)"));
    assert!(doc.contains("Aucune zone ne remplit"));
    assert!(
        map::draw(&brief(BriefKind::EarlyWarning, Lang::En, vec![], ""))
            .unwrap()
            .is_none()
    );
}

#[test]
fn the_document_lists_at_most_max_rows_and_the_geojson_every_area() {
    let areas: Vec<Area> = (1..=MAX_ROWS + 3)
        .map(|r| area(r, 16.0 + r as f64 * 0.1))
        .collect();
    let b = brief(BriefKind::WeeklyHotspot, Lang::En, areas, "");
    let doc = document(&b).unwrap();
    assert!(doc.contains(&format!("r1c{MAX_ROWS}<")));
    assert!(!doc.contains(&format!("r1c{}<", MAX_ROWS + 1)));
    assert!(doc.contains("3 more areas"));
    let (geojson, n) = encode(&b, BriefFormat::Geojson).unwrap();
    assert_eq!(n as usize, MAX_ROWS + 3);
    let v: serde_json::Value = serde_json::from_slice(&geojson).unwrap();
    assert_eq!(v["features"].as_array().unwrap().len(), MAX_ROWS + 3);
}
