//! The default analysis areas are padded as docs/analysis.md says, and the
//! area applied is what the product records.

use super::coverage::CoverageRequest;
use super::hotspots::HotspotRequest;
use crate::analysis::product::{Field, Param, Product};
use crate::ingest::{ingest, IngestOptions, Input};
use crate::model::Layer;
use crate::store::GpkgStore;
use serde_json::json;

fn store() -> (tempfile::TempDir, GpkgStore) {
    let dir = tempfile::TempDir::new().unwrap();
    let store = GpkgStore::open(dir.path().join("s.gpkg")).unwrap();
    let features: Vec<String> = [(18.0, 5.0), (18.5, 5.4), (18.2, 5.1), (18.3, 5.3)]
        .iter()
        .enumerate()
        .map(|(i, (x, y))| {
            json!({"type":"Feature","id":format!("i{i}"),
                "geometry":{"type":"Point","coordinates":[x, y]},
                "properties":{"time":format!("2024-03-0{}", i + 1),"category":"killing"}})
            .to_string()
        })
        .collect();
    let input = Input::Features {
        name: "test".into(),
        features: Box::new(features.into_iter()),
    };
    ingest(
        &store,
        &IngestOptions::new(Layer::Incidents),
        vec![input],
        &|_, _| {},
    )
    .unwrap();
    (dir, store)
}

fn parse<A: clap::Args + clap::FromArgMatches>(argv: &[&str]) -> A {
    let cmd = A::augment_args(clap::Command::new("t").no_binary_name(true));
    A::from_arg_matches(&cmd.try_get_matches_from(argv).unwrap()).unwrap()
}

/// The applied area of a product.
fn area(p: &Product) -> Vec<f64> {
    let Some(Field::Param(Param::Object(applied))) = p.meta("applied") else {
        panic!("no applied member");
    };
    let Some((_, Param::List(b))) = applied.iter().find(|(k, _)| *k == "area") else {
        panic!("no applied area");
    };
    b.iter()
        .map(|x| match x {
            Param::Num(v) => *v,
            other => panic!("{other:?}"),
        })
        .collect()
}

/// `[w, s, e, n]` of the four events padded by `pad_m`.
fn padded(pad_m: f64) -> Vec<f64> {
    let dlat = pad_m / 111_320.0;
    let dlon = dlat / 5.4f64.to_radians().cos();
    vec![18.0 - dlon, 5.0 - dlat, 18.5 + dlon, 5.4 + dlat]
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-9, "{a:?} != {b:?}");
    }
}

#[test]
fn hotspots_pad_the_events_extent_by_a_cell_and_the_bandwidth() {
    let (_d, store) = store();
    let run = |argv: &[&str]| parse::<HotspotRequest>(argv).run(&store).unwrap().product;
    // One cell (4 km) plus the bandwidth given (10 km).
    let p = run(&["--cell-km=4", "--bandwidth-km=10", "--permutations=0"]);
    close(&area(&p), &padded(14_000.0));
    // The bandwidth by rule: one cell and two more.
    let p = run(&["--cell-km=4", "--permutations=0"]);
    close(&area(&p), &padded(12_000.0));
    // A bbox is the area as given.
    let p = run(&["--cell-km=4", "--bbox=17,4,19,6", "--permutations=0"]);
    close(&area(&p), &[17.0, 4.0, 19.0, 6.0]);
}

#[test]
fn surfaces_pad_the_store_extent_by_the_widest_corridor() {
    let (_d, store) = store();
    let run = |argv: &[&str]| parse::<CoverageRequest>(argv).run(&store).unwrap().product;
    // The air corridor (10 km) is the widest by default.
    close(&area(&run(&["--cell-km=4"])), &padded(10_000.0));
    close(
        &area(&run(&[
            "--cell-km=4",
            "--corridor-air-km=1",
            "--corridor-vehicle-km=7",
        ])),
        &padded(7_000.0),
    );
}
