//! `jointmap demo`

use super::{progress_bar, Cli};
use crate::demo::{write_feature_collection, DemoConfig, Scenario, DEMO_SOURCE, DEMO_STORE};
use crate::ingest::{ingest, IngestError, IngestOptions, Input};
use crate::model::Layer;
use crate::store::{Location, Store, StoreError};
use std::path::PathBuf;

/// Arguments of `jointmap demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of incidents (sightings and patrols scale with it; bases and sites do not).
    #[arg(long, default_value_t = DemoConfig::default().incidents as u64, value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
    pub incidents: u64,
    /// Random seed: the same seed and size give the same scenario, byte for byte.
    #[arg(long, default_value_t = DemoConfig::default().seed)]
    pub seed: u64,
    /// Also write each layer as GeoJSON (`<layer>.geojson`) into this folder.
    #[arg(long, value_name = "DIR")]
    pub write_geojson: Option<PathBuf>,
    /// Only write the GeoJSON files; do not touch the store.
    #[arg(long, requires = "write_geojson")]
    pub no_store: bool,
    /// Then serve the demo over HTTP (OGC API - Features, analyses) on ADDR
    /// (default 127.0.0.1:8080), with a new token per role printed; Ctrl-C stops.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8080", conflicts_with = "no_store")]
    pub serve: Option<String>,
}

/// The demo's store: `--store` when given, else its own file
/// ([`DEMO_STORE`]), never the default real store.
fn demo_store(cli: &Cli) -> Location {
    if cli.store == Location::default() {
        Location::GeoPackage(PathBuf::from(DEMO_STORE))
    } else {
        cli.store.clone()
    }
}

/// Refuses a store holding features from any source but the demo's: the
/// demo would mix synthetic records into real ones.
fn refuse_real_data(store: &dyn Store, location: &Location) -> super::Result<()> {
    let mut batch = store.begin()?;
    for layer in Layer::ALL {
        for (source, n) in batch.sources(layer)? {
            if source.as_deref() != Some(DEMO_SOURCE) {
                return Err(StoreError::Invalid {
                    location: location.to_string(),
                    reason: format!(
                        "holds {n} {layer} from {}, not from the demo; the demo writes only into                          a store of its own (default {DEMO_STORE})",
                        source.map_or("an unrecorded source".to_string(), |s| format!("{s:?}"))
                    ),
                }
                .into());
            }
        }
    }
    Ok(())
}

/// Serves the demo store with one fresh token per role, printed once.
fn serve(store: Box<dyn Store>, location: &Location, addr: &str) -> super::Result<()> {
    use crate::server::config::{new_secret, sha256, to_hex, TokenConfig};
    use crate::server::{Config, ServerError};
    let cfg_err =
        |e: crate::server::config::ConfigError| super::CliError::Server(ServerError::Config(e.0));
    let mut cfg = Config {
        listen: addr.to_string(),
        store: location.clone(),
        ..Config::default()
    };
    cfg.audit_log = cfg.audit_path();
    let audit = cfg.audit_log.clone().unwrap_or_default();
    let mut secrets = Vec::new();
    for (role, ingest) in [
        ("hr", vec!["incidents"]),
        ("military", vec!["sightings", "patrols", "bases"]),
        ("jmac", vec!["sites"]),
        ("partner", vec![]),
    ] {
        let secret = new_secret().map_err(cfg_err)?;
        cfg.tokens.push(TokenConfig {
            name: format!("demo-{role}"),
            role: role.into(),
            sha256: to_hex(&sha256(secret.as_bytes())),
            ingest: ingest.into_iter().map(String::from).collect(),
        });
        secrets.push((role, secret));
    }
    cfg.validate().map_err(cfg_err)?;
    println!("\nServing the demo (Ctrl-C stops). Tokens for this run only, one per role:");
    for (role, secret) in &secrets {
        println!("  {role:<9} {secret}");
    }
    let jmac = &secrets[2].1;
    let host = addr.replace("0.0.0.0", "127.0.0.1");
    println!(
        "Try, with the address printed below:\n  \
         curl -H 'Authorization: Bearer {jmac}' http://{host}/collections\n  \
         curl -H 'Authorization: Bearer {jmac}' 'http://{host}/analysis/blindspots' -o blindspots.geojson\n  \
         ogrinfo -so OAPIF:http://{host} --config GDAL_HTTP_HEADERS 'Authorization: Bearer {jmac}'\n\
         QGIS: Layer > Add Layer > Add WFS / OGC API - Features Layer, URL http://{host}, with the header.\n\
         Audit log: {}",
        audit.display()
    );
    crate::server::run(&cfg, std::sync::Arc::from(store))?;
    Ok(())
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let cfg = DemoConfig {
        seed: args.seed,
        incidents: args.incidents as usize,
    };
    let scenario = Scenario::new(&cfg);
    if let Some(dir) = &args.write_geojson {
        let io = |path: &PathBuf, source| IngestError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        for layer in Layer::ALL {
            let path = dir.join(format!("{layer}.geojson"));
            let file = std::fs::File::create(&path).map_err(|e| io(&path, e))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            let n = match layer {
                Layer::Incidents => write_feature_collection(scenario.incidents(), &mut w),
                Layer::Sightings => {
                    write_feature_collection(scenario.sightings().into_iter(), &mut w)
                }
                Layer::Patrols => write_feature_collection(scenario.patrols().into_iter(), &mut w),
                Layer::Bases => write_feature_collection(scenario.bases().into_iter(), &mut w),
                Layer::Sites => write_feature_collection(scenario.sites().into_iter(), &mut w),
            }
            .and_then(|n| std::io::Write::flush(&mut w).map(|_| n))
            .map_err(|e| io(&path, e))?;
            if !cli.quiet {
                eprintln!("wrote {n} {layer} to {}", path.display());
            }
        }
    }
    if args.no_store {
        return Ok(());
    }
    let location = demo_store(cli);
    let store = crate::store::open_with(&location, &crate::store::OpenOptions::default())?;
    refuse_real_data(&*store, &location)?;
    for layer in Layer::ALL {
        let features = scenario.feature_texts(layer);
        let total = match layer {
            Layer::Incidents => cfg.incidents as u64,
            _ => 0,
        };
        let bar = progress_bar(cli.quiet || total < 50_000, total, "features");
        bar.set_message(format!("demo {layer}"));
        let input = Input::Features {
            name: format!("demo {layer}"),
            features,
        };
        let opts = IngestOptions {
            source: Some(DEMO_SOURCE.to_string()),
            ..IngestOptions::new(layer)
        };
        let report = ingest(&*store, &opts, vec![input], &|_, n| bar.set_position(n));
        bar.finish_and_clear();
        let report = report?;
        if !cli.quiet {
            eprintln!(
                "demo {layer}: stored {} ({} new, {} updated)",
                report.stored, report.inserted, report.updated
            );
        }
    }
    if !cli.quiet {
        let a = scenario.area();
        println!(
            "Demo mission loaded into {} (area of responsibility {:.1},{:.1} .. {:.1},{:.1}).",
            location, a[0], a[1], a[2], a[3]
        );
        for layer in Layer::ALL {
            let s = store.summary(layer)?;
            println!(
                "  {:<10} {:>8} features  {} .. {}",
                s.layer,
                s.count,
                s.first.unwrap_or_default(),
                s.last.unwrap_or_default()
            );
        }
        println!(
            "Inspect it with `jointmap --store {0} layers`, `jointmap --store {0} export incidents`, \
             or open {0} in QGIS.",
            location
        );
    }
    if let Some(addr) = &args.serve {
        return serve(store, &location, addr);
    }
    Ok(())
}
