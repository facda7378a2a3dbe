//! The briefs as a person reads them: every kind of brief (`BriefKind::ALL`,
//! so a kind added later is covered without touching this file), in English
//! and French, made by the real binary as an HTML document, printed to PDF
//! by Debian's headless chromium, and read back with poppler: one or two A4
//! pages, page 1 rendered to PNG is not blank (a share of ink, and colour:
//! the map), and the PDF's text holds the brief's title.
//!
//! Also on an empty store: still a readable page with the title and the
//! "nothing to report" line, not an error.
//!
//! With `JOINTMAP_BRIEF_PNGS=1` the English page 1 of each kind on the demo
//! is written to docs/briefs/KIND-demo-en.png (50 dpi): the examples
//! docs/briefs.md shows.
//!
//! Needs chromium and poppler-utils (pdfinfo, pdftoppm, pdftotext): without
//! them the test is ignored with the reason; in CI (`JOINTMAP_REQUIRE_TOOLS=1`)
//! build.rs fails instead.

mod common;

use common::*;
use jointmap::render::brief::i18n;
use jointmap::request::brief::{BriefKind, Lang};
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

const AS_OF: &str = "2025-12-31";

/// What a page is expected to show.
#[derive(Clone, Copy, PartialEq)]
enum Store {
    /// The demo mission: areas, tables and a map in colour.
    Demo,
    /// Nothing at all: the title and the "nothing to report" line.
    Empty,
}

fn lang_arg(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "en",
        Lang::Fr => "fr",
    }
}

fn tool(name: &str, args: &[&str]) -> std::process::Output {
    let o = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"));
    assert!(
        o.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The HTML document printed to PDF by headless chromium, as a person's
/// "print to PDF" would (no header or footer lines of the browser's own).
fn print_to_pdf(html: &Path, pdf: &Path) {
    let profile = TempDir::new().unwrap();
    let exe = if Path::new("/usr/bin/chromium").exists() {
        PathBuf::from("/usr/bin/chromium")
    } else {
        PathBuf::from("chromium")
    };
    let o = Command::new(exe)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    assert!(
        pdf.exists() && std::fs::metadata(pdf).unwrap().len() > 0,
        "chromium wrote no PDF for {}: {}",
        html.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The number of pages and the page size, from pdfinfo.
fn pages(pdf: &Path) -> (usize, String) {
    let o = tool("pdfinfo", &[pdf.to_str().unwrap()]);
    let info = String::from_utf8_lossy(&o.stdout).into_owned();
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("pdfinfo without {name}: {info}"))
    };
    let n = field("Pages:").parse().expect("a page count");
    (n, field("Page size:"))
}

/// Page 1's text, whitespace collapsed (lines wrap where the page decides).
fn page_text(pdf: &Path) -> String {
    let o = tool(
        "pdftotext",
        &[
            "-f",
            "1",
            "-l",
            "1",
            "-enc",
            "UTF-8",
            pdf.to_str().unwrap(),
            "-",
        ],
    );
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Page 1 as a PNG at `dpi`, written to `out` (pdftoppm adds `.png`).
fn page_png(pdf: &Path, dpi: u32, out: &Path) -> PathBuf {
    let dpi = dpi.to_string();
    tool(
        "pdftoppm",
        &[
            "-png",
            "-r",
            &dpi,
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            pdf.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    out.with_extension("png")
}

/// What a page's pixels say: the share of ink (not near white), the number
/// of distinct colours, and the share of clearly coloured pixels (not grey:
/// the map's fills and symbols; text and rules are black or grey).
struct Looks {
    ink: f64,
    colours: usize,
    coloured: f64,
}

fn looks(png: &Path) -> Looks {
    let img = tiny_skia::Pixmap::load_png(png).expect("a PNG from pdftoppm");
    let px = img.pixels();
    let total = px.len() as f64;
    let mut distinct = std::collections::HashSet::new();
    let (mut ink, mut coloured) = (0usize, 0usize);
    for p in px {
        let (r, g, b) = (p.red(), p.green(), p.blue());
        distinct.insert((r, g, b));
        if r < 200 || g < 200 || b < 200 {
            ink += 1;
        }
        if r.max(g).max(b) - r.min(g).min(b) > 60 {
            coloured += 1;
        }
    }
    Looks {
        ink: ink as f64 / total,
        colours: distinct.len(),
        coloured: coloured as f64 / total,
    }
}

/// Makes, prints and reads one brief; returns page 1's PNG.
fn check(dir: &Path, store: &Path, what: Store, kind: BriefKind, lang: Lang) -> PathBuf {
    let name = format!(
        "{}-{}-{}",
        kind.as_str(),
        if what == Store::Demo { "demo" } else { "empty" },
        lang_arg(lang)
    );
    let html = dir.join(format!("{name}.html"));
    let o = run(
        store,
        &[
            "brief",
            kind.as_str(),
            "--as-of",
            AS_OF,
            "--lang",
            lang_arg(lang),
            "--format",
            "html",
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    let pdf = dir.join(format!("{name}.pdf"));
    print_to_pdf(&html, &pdf);

    // A one-to-two-page A4 document.
    let (n, size) = pages(&pdf);
    assert!((1..=2).contains(&n), "{name}: {n} pages");
    assert!(size.contains("(A4)"), "{name}: page size {size}");

    // Its text as the reader sees it: the title, and on an empty store the
    // line saying there is nothing to report.
    let text = page_text(&pdf);
    let title = i18n::t(lang, &format!("title.{}", kind.as_str()));
    assert!(
        text.contains(&title),
        "{name}: no title {title:?} in: {text}"
    );
    if what == Store::Empty {
        let none = i18n::t(lang, "none");
        assert!(text.contains(&none), "{name}: no {none:?} in: {text}");
    }

    // Page 1 is not blank: ink (text, tables, the map) and, on the demo,
    // colour (the map). The early-warning map draws outlined cells, labels and
    // small symbols: about 0.17 % of page 1's pixels are clearly coloured at
    // 60 dpi (checked by eye), where a page without its map has none.
    let png = page_png(&pdf, 60, &dir.join(&name));
    let l = looks(&png);
    assert!(l.ink > 0.01, "{name}: a blank page ({:.4} ink)", l.ink);
    assert!(l.colours > 2, "{name}: {} colours", l.colours);
    if what == Store::Demo {
        assert!(
            l.coloured > 0.001 && l.colours > 50,
            "{name}: no map in colour ({:.4} coloured, {} colours)",
            l.coloured,
            l.colours
        );
    }
    pdf
}

#[test]
#[cfg_attr(
    not(all(jointmap_chromium, jointmap_poppler)),
    ignore = "needs chromium and poppler-utils (apt-get install chromium poppler-utils)"
)]
fn every_brief_prints_to_a_readable_pdf() {
    let dir = TempDir::new().unwrap();
    let demo = dir.path().join("demo.gpkg");
    let o = run(&demo, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let empty = dir.path().join("empty.gpkg");
    let o = run(&empty, &["migrate"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let save = std::env::var("JOINTMAP_BRIEF_PNGS").is_ok_and(|v| v == "1");
    for kind in BriefKind::ALL {
        for lang in [Lang::En, Lang::Fr] {
            let pdf = check(dir.path(), &demo, Store::Demo, kind, lang);
            if save && lang == Lang::En {
                let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/briefs");
                let png = page_png(&pdf, 50, &docs.join(format!("{}-demo-en", kind.as_str())));
                eprintln!("wrote {}", png.display());
            }
            check(dir.path(), &empty, Store::Empty, kind, lang);
        }
    }
}
