//! Criterion benchmark: blind spots on the issue's size, the demo mission at
//! `--incidents 1000000`: an area of responsibility of about 600 km x 400 km
//! (15.6-21.0 E, 4.2-7.8 N) on 1 km cells (about 240,000), 1,000,000
//! incidents, 50,000 sightings, 20,000 patrol tracks (33 km on average),
//! 41 bases and 152 civilian sites, over the whole two years.
//!
//! ```text
//! cargo bench --bench blindspots                        # 100k incidents (quick)
//! JOINTMAP_BENCH_SIZES=1000000 cargo bench --bench blindspots
//! ```
//!
//! Stages: `load` reads every input from the GeoPackage through the `Store`
//! trait; `compute` runs presence, threat and blind spots on the loaded
//! inputs; `request` is the whole of `jointmap blindspots` (load + compute +
//! GeoJSON). The store is generated once per size into
//! `target/bench-stores/` (or `JOINTMAP_BENCH_STORE_DIR`) and reused.
//!
//! `JOINTMAP_BENCH_ONCE=1`: no criterion; runs the request once per size and
//! prints the stage times, for peak-memory measurements with
//! `/usr/bin/time -v`.

use clap::Parser;
use criterion::{BenchmarkId, Criterion};
use jointmap::analysis::blindspots::{blindspots, BlindSpotParams};
use jointmap::analysis::coverage::{coverage, load_presence};
use jointmap::analysis::threat::{load_sightings, load_sites, threat};
use jointmap::demo::{DemoConfig, Scenario};
use jointmap::ingest::{ingest, IngestOptions, Input};
use jointmap::model::Layer;
use jointmap::request::blindspots::BlindspotRequest;
use jointmap::request::coverage::load_reports;
use jointmap::store::{GpkgStore, Store};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The binary's allocator, so that reading the store costs what it costs in
/// `jointmap blindspots`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The request as the CLI would parse it.
#[derive(Parser)]
struct Cmd {
    #[command(flatten)]
    request: BlindspotRequest,
}

fn request() -> BlindspotRequest {
    // The whole two years of the demo, on 1 km cells.
    Cmd::parse_from([
        "bench",
        "--cell-km",
        "1",
        "--from",
        "2024-01-01",
        "--to",
        "2025-12-31",
    ])
    .request
}

/// The demo store with `n` incidents, generated once.
fn store(n: usize) -> GpkgStore {
    let dir = std::env::var_os("JOINTMAP_BENCH_STORE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-stores"));
    std::fs::create_dir_all(&dir).expect("bench store directory");
    let path = dir.join(format!("demo-{n}.gpkg"));
    let done = dir.join(format!("demo-{n}.done"));
    if !done.exists() {
        let _ = std::fs::remove_file(&path);
        let t = Instant::now();
        let store = GpkgStore::open_unindexed(&path).expect("open store");
        let scenario = Scenario::new(&DemoConfig {
            incidents: n,
            ..DemoConfig::default()
        });
        for layer in Layer::ALL {
            let features = scenario.feature_texts(layer);
            let input = Input::Features {
                name: format!("demo {layer}"),
                features,
            };
            ingest(&store, &IngestOptions::new(layer), vec![input], &|_, _| {}).expect("ingest");
        }
        std::fs::write(&done, b"").expect("marker");
        eprintln!(
            "generated {} in {:.1} s",
            path.display(),
            t.elapsed().as_secs_f64()
        );
    }
    GpkgStore::open_unindexed(&path).expect("open store")
}

/// Everything the computation needs, loaded.
struct Inputs {
    grid: jointmap::grid::Grid,
    incidents: jointmap::analysis::Events,
    sightings: jointmap::analysis::Events,
    sites: Vec<jointmap::analysis::threat::Site>,
    presence: jointmap::analysis::coverage::Presence,
    reports: jointmap::analysis::Events,
}

fn load(store: &GpkgStore, req: &BlindspotRequest) -> Inputs {
    let (from, to) =
        jointmap::request::surface::window(store, req.incidents.from, req.incidents.to).unwrap();
    let threat_params = req.threat.params(from, to).unwrap();
    let grid = req
        .grid
        .build(store, None, threat_params.bandwidth_m)
        .unwrap();
    let incidents = req
        .incidents
        .load_window(
            store,
            Layer::Incidents,
            chrono::DateTime::from_timestamp(from, 0),
            chrono::DateTime::from_timestamp(to, 0),
        )
        .unwrap();
    let sightings = load_sightings(store, from, to, None).unwrap();
    // As the request does: the reports are the loaded incidents and sightings.
    let reports = if req.incidents.is_plain() {
        let mut r = incidents.clone();
        r.extend_from(&sightings);
        r
    } else {
        load_reports(store, from, to, None).unwrap()
    };
    Inputs {
        grid,
        incidents,
        sightings,
        sites: load_sites(store, None, to).unwrap(),
        presence: load_presence(store, from, to, None).unwrap(),
        reports,
    }
}

/// Presence, threat and blind spots on loaded inputs: the number of blind
/// spots and the time of each stage.
fn compute(store: &dyn Store, req: &BlindspotRequest, i: &Inputs) -> (usize, [Duration; 3]) {
    let (from, to) =
        jointmap::request::surface::window(store, req.incidents.from, req.incidents.to).unwrap();
    let t = Instant::now();
    let cov = coverage(
        &i.grid,
        &i.presence,
        &i.reports,
        &req.presence.params(from, to).unwrap(),
    )
    .unwrap();
    let t_cov = t.elapsed();
    let t = Instant::now();
    let thr = threat(
        &i.grid,
        &i.incidents,
        &i.sightings,
        &i.sites,
        &req.threat.params(from, to).unwrap(),
    )
    .unwrap();
    let t_thr = t.elapsed();
    let t = Instant::now();
    let b = blindspots(
        &i.grid,
        &thr,
        &cov,
        &i.presence,
        &BlindSpotParams::default(),
    )
    .unwrap();
    (b.spots.len(), [t_cov, t_thr, t.elapsed()])
}

fn sizes() -> Vec<usize> {
    std::env::var("JOINTMAP_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000])
}

fn once() {
    for n in sizes() {
        let store = store(n);
        let req = request();
        let t = Instant::now();
        let inputs = load(&store, &req);
        let t_load = t.elapsed();
        let t = Instant::now();
        let (spots, [t_cov, t_thr, t_spots]) = compute(&store, &req, &inputs);
        let t_compute = t.elapsed();
        println!(
            "  coverage {:.3}s threat {:.3}s blindspots {:.3}s",
            t_cov.as_secs_f64(),
            t_thr.as_secs_f64(),
            t_spots.as_secs_f64()
        );
        println!(
            "n={n} cells={} incidents={} sightings={} patrols={} bases={} load={:.3}s compute={:.3}s spots={spots}",
            inputs.grid.len(),
            inputs.incidents.len(),
            inputs.sightings.len(),
            inputs.presence.patrols.len(),
            inputs.presence.bases.len(),
            t_load.as_secs_f64(),
            t_compute.as_secs_f64()
        );
    }
}

fn main() {
    if std::env::var_os("JOINTMAP_BENCH_ONCE").is_some() {
        once();
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    let mut g = c.benchmark_group("blindspots");
    for n in sizes() {
        let store = store(n);
        let req = request();
        let inputs = load(&store, &req);
        g.bench_with_input(BenchmarkId::new("compute", n), &n, |b, _| {
            b.iter(|| compute(&store, &req, &inputs).0)
        });
        g.bench_with_input(BenchmarkId::new("load", n), &n, |b, _| {
            b.iter(|| load(&store, &req).incidents.len())
        });
        g.bench_with_input(BenchmarkId::new("request", n), &n, |b, _| {
            b.iter(|| req.run(&store).unwrap().product.items.len())
        });
    }
    g.finish();
    c.final_summary();
}
