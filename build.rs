//! Detects the external tools and data some tests need, so a test without
//! them is reported as ignored (with the reason) instead of passing as `ok`:
//! each present one sets a cfg the tests use in
//! `#[cfg_attr(not(jointmap_xxx), ignore = "...")]`. Under
//! JOINTMAP_REQUIRE_TOOLS=1 (`.ci/run`) a missing one fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (cfg, what is missing, how to find it).
struct Need {
    cfg: &'static str,
    what: &'static str,
    find: fn() -> Option<PathBuf>,
}

fn main() {
    let needs = [
        Need {
            cfg: "jointmap_shared_data",
            what: "../shared/data/ucdp-ged-23.1-car.geojson",
            find: || existing(Path::new("../shared/data/ucdp-ged-23.1-car.geojson")),
        },
        Need {
            cfg: "jointmap_ogrinfo",
            what: "ogrinfo and ogr2ogr (apt-get install gdal-bin)",
            find: || {
                on_path("ogr2ogr", &["--version"])?;
                on_path("ogrinfo", &["--version"])
            },
        },
        Need {
            cfg: "jointmap_chromium",
            what: "chromium (apt-get install chromium)",
            find: || on_path("chromium", &["--version"]),
        },
        // The briefs printed to PDF and read back (tests/brief_pdf.rs).
        Need {
            cfg: "jointmap_poppler",
            what: "poppler-utils: pdfinfo, pdftoppm, pdftotext (apt-get install poppler-utils)",
            find: || {
                on_path("pdfinfo", &["-v"])?;
                on_path("pdftotext", &["-v"])?;
                on_path("pdftoppm", &["-v"])
            },
        },
        Need {
            cfg: "jointmap_owslib",
            what: "OWSLib (pip install -r tools/requirements-clients.txt)",
            find: || python_module("owslib.ogcapi.features"),
        },
        Need {
            cfg: "jointmap_schemathesis",
            what: "schemathesis (pip install -r tools/requirements-clients.txt)",
            find: || on_path("schemathesis", &["--version"]),
        },
        // The reverse proxy of a headquarters setup (tests/proxy_failover.rs runs the
        // shipped deploy/nginx/jointmap.conf). Debian installs it in /usr/sbin, which
        // an unprivileged user's PATH may lack.
        Need {
            cfg: "jointmap_nginx",
            what: "nginx (apt-get install nginx-light)",
            find: || {
                let found = on_path("nginx", &["-v"]).or_else(|| {
                    let p = PathBuf::from("/usr/sbin/nginx");
                    Command::new(&p)
                        .arg("-v")
                        .output()
                        .is_ok_and(|o| o.status.success())
                        .then_some(p)
                })?;
                // The test runs the binary found here.
                println!("cargo::rustc-env=JOINTMAP_NGINX={}", found.display());
                Some(found)
            },
        },
        // QGIS as a client (tests/qgis_client.rs): its Python API for Debian's own
        // python3 (not a pyenv one) and the providers package's OAPIF (wfs) and
        // XYZ (wms) providers.
        Need {
            cfg: "jointmap_qgis",
            what: "QGIS's Python API for /usr/bin/python3 with its providers (apt-get install --no-install-recommends python3-qgis qgis-providers)",
            find: || {
                existing(Path::new("/usr/lib/qgis/plugins/libprovider_wfs.so"))?;
                existing(Path::new("/usr/lib/qgis/plugins/libprovider_wms.so"))?;
                python_module_of("/usr/bin/python3", "qgis.core")
            },
        },
        // The PostGIS store's tests (contract matrix): a server to run them on.
        Need {
            cfg: "jointmap_test_pg",
            what: "JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)",
            find: || {
                std::env::var("JOINTMAP_TEST_PG")
                    .is_ok_and(|u| !u.trim().is_empty())
                    // Rerun on the variable (below), not on a file.
                    .then(|| PathBuf::from("build.rs"))
            },
        },
    ];
    // The `gdal` feature links libgdal (Debian's libgdal-dev), found by
    // gdal-sys through gdal-config / pkg-config: said here by name.
    let gdal = Need {
        cfg: "jointmap_libgdal",
        what: "libgdal-dev for the gdal feature (apt-get install libgdal-dev)",
        find: || on_path("gdal-config", &["--version"]),
    };
    if std::env::var_os("CARGO_FEATURE_GDAL").is_some() {
        // jointmap links its own SQLite (rusqlite's `bundled`) and libgdal the
        // system's libsqlite3. The linker would export the bundled copy's
        // symbols from the executable (libgdal references them), so GDAL would
        // bind to one copy and SpatiaLite to the other: a crash on the first
        // GeoPackage GDAL opens. Keeping static archives' symbols out of the
        // executable's dynamic table gives each its own, consistent copy.
        println!("cargo::rustc-link-arg=-Wl,--exclude-libs,ALL");
    }
    let needs: Vec<&Need> = needs
        .iter()
        .chain(std::env::var_os("CARGO_FEATURE_GDAL").map(|_| &gdal))
        .collect();
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=JOINTMAP_REQUIRE_TOOLS");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=JOINTMAP_TEST_PG");
    let required = std::env::var("JOINTMAP_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    let mut missing = Vec::new();
    println!("cargo::rustc-check-cfg=cfg(jointmap_libgdal)");
    for need in &needs {
        println!("cargo::rustc-check-cfg=cfg({})", need.cfg);
        match (need.find)() {
            Some(found) => {
                // Rerun when it goes away (or changes).
                println!("cargo::rerun-if-changed={}", found.display());
                println!("cargo::rustc-cfg={}", need.cfg);
            }
            None => {
                // A path that does not exist makes cargo rerun this script on
                // every build, so a tool installed later is seen.
                println!("cargo::rerun-if-changed=.jointmap-missing-{}", need.cfg);
                missing.push(need.what);
            }
        }
    }
    if required && !missing.is_empty() {
        panic!(
            "JOINTMAP_REQUIRE_TOOLS=1 but missing: {}",
            missing.join(", ")
        );
    }
    for m in missing {
        println!("cargo::warning=tests needing {m} are ignored: it is missing");
    }
}

fn existing(p: &Path) -> Option<PathBuf> {
    p.exists().then(|| p.to_path_buf())
}

/// The tool's full path when it runs.
fn on_path(tool: &str, args: &[&str]) -> Option<PathBuf> {
    let ok = Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return None;
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.exists())
}

/// The module's file when python3 imports it.
fn python_module(module: &str) -> Option<PathBuf> {
    python_module_of("python3", module)
}

/// The module's file when `python` imports it.
fn python_module_of(python: &str, module: &str) -> Option<PathBuf> {
    let o = Command::new(python)
        .args(["-c", &format!("import {module} as m; print(m.__file__)")])
        .output()
        .ok()?;
    if !o.status.success() {
        return None;
    }
    let path = String::from_utf8_lossy(&o.stdout).trim().to_string();
    existing(Path::new(&path))
}
