//! A brief as one self-contained HTML document (no script, no external
//! font, style sheet or image: the map is a `data:` URI) that prints to a
//! clean A4 PDF from a browser.

use super::i18n::{date, number, t};
use super::map::{self, MapImage};
use crate::analysis::product::{Field, Param, Product};
use crate::render::tiles::TileError;
use crate::request::brief::{Area, Brief, BriefKind, Status};
use std::fmt::Write;

pub(super) const STYLE: &str = "
@page { size: A4; margin: 14mm 14mm 16mm 14mm; }
* { box-sizing: border-box; }
body { font-family: 'DejaVu Sans', 'Liberation Sans', Arial, sans-serif; font-size: 10pt;
  color: #111; margin: 0 auto; max-width: 190mm; line-height: 1.35; }
.classification { text-align: center; font-weight: bold; letter-spacing: 0.04em;
  border: 1.5pt solid #111; padding: 2mm; margin: 0 0 4mm 0; font-size: 9pt; }
header h1 { font-size: 16pt; margin: 0 0 2mm 0; }
header dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.5mm 4mm; margin: 0 0 4mm 0; }
header dt { font-weight: bold; }
header dd { margin: 0; }
h2 { font-size: 12pt; margin: 5mm 0 2mm 0; border-bottom: 0.8pt solid #555; }
figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
.map { position: relative; display: inline-block; max-width: 100%; }
.map img { display: block; max-width: 100%; height: auto; border: 0.5pt solid #888; }
.map span { position: absolute; transform: translate(-50%, -50%); font-weight: bold;
  font-size: 8pt; background: #fff; border: 0.6pt solid #111; border-radius: 2mm; padding: 0 1mm; }
figcaption { font-size: 8.5pt; color: #333; margin-top: 1mm; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; margin: 1mm 0 2mm 0; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 0.5pt solid #999; padding: 0.8mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eee; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.rule { font-size: 8.5pt; font-style: italic; }
.how { border: 0.8pt solid #555; background: #f6f6f2; padding: 2mm 3mm; margin-top: 4mm;
  break-inside: avoid; page-break-inside: avoid; font-size: 8.5pt; }
.how h2 { border: 0; margin-top: 0; }
.how dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.3mm 4mm; margin: 1mm 0; }
.how dt { font-weight: bold; }
.how dd { margin: 0; word-break: break-all; }
.page-break { break-before: page; page-break-before: always; }
.swatch { display: inline-block; width: 3mm; height: 3mm; border: 0.5pt solid #333; margin-right: 1mm; }
@media print { body { max-width: none; } }
";

/// The most areas the document lists (by rank), so that it stays within
/// two pages; the GeoJSON and CSV hold every area.
pub const MAX_ROWS: usize = 20;

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn meta<'a>(p: &'a Product, name: &str) -> Option<&'a Field> {
    p.meta(name)
}

pub(super) fn meta_text(p: &Product, name: &str) -> Option<String> {
    match meta(p, name)? {
        Field::Param(Param::Text(s)) | Field::Key(s) | Field::Class(s) => Some(s.clone()),
        Field::Param(Param::Int(n)) => Some(n.to_string()),
        Field::Param(Param::Num(x)) => Some(x.to_string()),
        Field::Count { n, .. } | Field::Tally(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The brief as an HTML document.
pub fn document(brief: &Brief) -> Result<String, TileError> {
    if let Some(h) = &brief.handover {
        return super::handover::document(brief, h);
    }
    if brief.kind == BriefKind::ThreatMatrix {
        return super::threat_matrix::document(brief);
    }
    let lang = brief.request.lang;
    let l = |k: &str| escape(&t(lang, k));
    let kind = brief.kind.as_str();
    let mut h = String::new();
    let title = t(lang, &format!("title.{kind}"));
    let role = brief.role.clone().unwrap_or_else(|| t(lang, "operator"));
    let classification = if brief.role.as_deref() == Some("partner") {
        t(lang, "class.partner")
    } else {
        t(lang, "class.restricted")
    };
    // Writing to a String cannot fail.
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title} — {date}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <div class=\"classification\">{class}</div>\n<header>\n<h1>{title}</h1>\n<dl>\n\
         <dt>{l_mission}</dt><dd>{mission}</dd>\n<dt>{l_asof}</dt><dd>{date}</dd>\n\
         <dt>{l_role}</dt><dd>{role}</dd>\n</dl>\n</header>\n",
        code = lang.code(),
        title = escape(&title),
        date = escape(&date(lang, brief.request.as_of)),
        class = escape(&classification),
        l_mission = l("mission"),
        mission = escape(if brief.request.mission.is_empty() {
            "—"
        } else {
            &brief.request.mission
        }),
        l_asof = l("as_of"),
        l_role = l("made_for"),
        role = escape(&role),
    );
    let _ = writeln!(h, "<h2>{}</h2>", l("map"));
    match map::draw(brief)? {
        Some(img) => figure(&mut h, &img, &l(&format!("map.{kind}"))),
        None => {
            let _ = writeln!(h, "<p>{}</p>", l("map.none"));
        }
    }
    match brief.kind {
        BriefKind::WeeklyHotspot => {
            let _ = writeln!(h, "<h2>{}</h2>", l("section.weekly-hotspot"));
            table(&mut h, brief, &listed(brief).collect::<Vec<_>>());
        }
        BriefKind::EarlyWarning => {
            // Alerts apart from warnings where the role could split them.
            let split = !brief
                .unavailable
                .iter()
                .any(|(n, _)| *n == "trends_verified");
            let sections: &[Status] = if split {
                &[Status::Warning, Status::Alert]
            } else {
                &[Status::Unsplit]
            };
            for &status in sections {
                let areas: Vec<&Area> =
                    listed(brief).filter(|a| a.status == Some(status)).collect();
                let _ = writeln!(h, "<h2>{}</h2>", l(&format!("section.{}", status.as_str())));
                table(&mut h, brief, &areas);
            }
        }
        BriefKind::QuarterlyOutlook => {
            let _ = writeln!(h, "<h2>{}</h2>", l("section.quarterly-outlook"));
            table(&mut h, brief, &listed(brief).collect::<Vec<_>>());
            super::outlook::sections(&mut h, brief);
        }
        BriefKind::Handover => {}
        BriefKind::ThreatMatrix => {}
    }
    if brief.areas.len() > MAX_ROWS {
        let _ = writeln!(
            h,
            "<p>{}</p>",
            escape(&t(lang, "more").replace("{n}", &(brief.areas.len() - MAX_ROWS).to_string()))
        );
    }
    let _ = writeln!(
        h,
        "<p class=\"rule\"><b>{}:</b> {}</p>",
        l("rule"),
        l(&format!("rule.{kind}"))
    );
    how(&mut h, brief);
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

/// The areas the document lists: the first [`MAX_ROWS`] by rank.
fn listed(brief: &Brief) -> impl Iterator<Item = &Area> {
    brief.areas.iter().filter(|a| a.rank <= MAX_ROWS)
}

pub(super) fn figure(h: &mut String, img: &MapImage, caption: &str) {
    let _ = write!(
        h,
        "<figure><div class=\"map\"><img alt=\"map\" width=\"{}\" height=\"{}\" src=\"data:image/png;base64,{}\">",
        img.width,
        img.height,
        map::base64(&img.png)
    );
    for (x, y, rank) in &img.labels {
        let _ = write!(
            h,
            "<span style=\"left:{:.2}%;top:{:.2}%\">{rank}</span>",
            x * 100.0,
            y * 100.0
        );
    }
    let _ = writeln!(h, "</div><figcaption>{caption}</figcaption></figure>");
}

fn table(h: &mut String, brief: &Brief, areas: &[&Area]) {
    let lang = brief.request.lang;
    let l = |k: &str| escape(&t(lang, k));
    if areas.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", l("none"));
        return;
    }
    let mut cols = vec![
        "col.rank",
        "col.cell",
        "col.pattern",
        "col.count",
        "col.hot_steps",
    ];
    match brief.kind {
        BriefKind::WeeklyHotspot => cols.extend(["col.presence", "col.blind", "col.score"]),
        BriefKind::ThreatMatrix => {}
        BriefKind::EarlyWarning => cols.extend([
            "col.previous",
            "col.sightings",
            "col.blind",
            "col.likelihood",
            "col.impact",
            "col.priority",
        ]),
        BriefKind::QuarterlyOutlook => cols.extend(["col.persistence", "col.blind"]),
        BriefKind::Handover => {}
    }
    h.push_str("<table>\n<thead><tr>");
    for c in &cols {
        let _ = write!(h, "<th>{}</th>", l(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for a in areas {
        let colour = super::map::area_colour(brief.kind, &a.pattern, a.priority);
        let count = match &a.count {
            Field::Count { n, .. } => n.to_string(),
            _ => t(lang, "suppressed"),
        };
        let blind = a.blind_spot.as_ref().map_or_else(
            || "—".to_string(),
            |(k, r)| format!("{} #{r}", t(lang, &format!("blind.{k}"))),
        );
        let _ = write!(
            h,
            "<tr><td class=\"n\">{}</td><td>{}</td><td><span class=\"swatch\" style=\"background:rgb({},{},{})\"></span>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            a.rank,
            escape(&a.cell),
            colour.0,
            colour.1,
            colour.2,
            l(&format!("pattern.{}", a.pattern)),
            escape(&count),
            a.hot_steps,
        );
        match brief.kind {
            BriefKind::ThreatMatrix => {}
            BriefKind::WeeklyHotspot => {
                let _ = write!(
                    h,
                    "<td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td>",
                    number(lang, a.presence, 2),
                    escape(&blind),
                    number(lang, a.score, 2)
                );
            }
            BriefKind::EarlyWarning => {
                let sightings = a
                    .sightings
                    .map_or_else(|| t(lang, "not_available"), |n| n.to_string());
                let _ = write!(
                    h,
                    "<td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><b>{}</b></td>",
                    l(&format!(
                        "pattern.{}",
                        a.previous.as_deref().unwrap_or("no-pattern")
                    )),
                    escape(&sightings),
                    escape(&blind),
                    a.likelihood,
                    a.impact,
                    l(&format!(
                        "priority.{}",
                        a.priority.map_or("low", |p| p.as_str())
                    )),
                );
            }
            BriefKind::QuarterlyOutlook => {
                h.push_str(&super::outlook::persistence_cell(brief, a));
                let _ = write!(h, "<td>{}</td>", escape(&blind));
            }
            BriefKind::Handover => {}
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

/// The "how this was computed" box: the method in one paragraph, the
/// parameters as applied (from the gated parts), the counts and the
/// provenance.
fn how(h: &mut String, brief: &Brief) {
    let lang = brief.request.lang;
    let l = |k: &str| escape(&t(lang, k));
    let kind = brief.kind.as_str();
    let _ = writeln!(
        h,
        "<section class=\"how\"><h2>{}</h2>\n<p>{}</p>\n<dl>",
        l("how"),
        l(&format!("how.{kind}"))
    );
    let mut row = |k: &str, v: String| {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", l(k), escape(&v));
    };
    let days = t(lang, "days");
    row(
        "p.cell",
        format!("{} km", number(lang, brief.request.cell_km, 1)),
    );
    if let Some((_, trends)) = brief.parts.iter().find(|(n, _)| *n == "trends") {
        if let Some(s) = meta_text(trends, "step_days") {
            row("p.step", format!("{s} {days}"));
        }
        if let Some(s) = meta_text(trends, "steps") {
            row("p.steps", s);
        }
        if let (Some(a), Some(b)) = (
            meta_text(trends, "first_step_start"),
            meta_text(trends, "cube_end"),
        ) {
            row("p.window", format!("{a} — {b}"));
        }
        row(
            "p.events",
            meta_text(trends, "events").unwrap_or_else(|| t(lang, "suppressed")),
        );
        if let Some(s) = meta_text(trends, "cube_cells") {
            row("p.cube_cells", s);
        }
        if let Some(s) = meta_text(trends, "data_version") {
            row("p.data_version", s);
        }
        if let Some(Field::Param(Param::Object(gate))) = meta(trends, "gate") {
            if let Some((_, Param::Text(sha))) = gate.iter().find(|(k, _)| *k == "policy_sha256") {
                row("p.policy", sha.clone());
            }
        }
    }
    row("p.areas", brief.areas.len().to_string());
    match brief.kind {
        BriefKind::ThreatMatrix => {}
        BriefKind::WeeklyHotspot => {
            if let Some((_, cov)) = brief.parts.iter().find(|(n, _)| *n == "coverage") {
                if let (Some(a), Some(b)) = (window(cov, "from"), window(cov, "to")) {
                    row("p.coverage", format!("{a} — {b}"));
                }
            }
        }
        BriefKind::EarlyWarning => {
            row(
                "p.near",
                format!("{} km", number(lang, brief.request.near_km, 1)),
            );
        }
        BriefKind::QuarterlyOutlook => super::outlook::how_rows(brief, &mut row),
        BriefKind::Handover => {}
    }
    if !brief.unavailable.is_empty() {
        let parts: Vec<String> = brief
            .unavailable
            .iter()
            .map(|(n, r)| format!("{n}: {r}"))
            .collect();
        row("p.unavailable", parts.join("; "));
    }
    h.push_str("</dl>\n</section>\n");
}

fn window(p: &Product, name: &str) -> Option<String> {
    match meta(p, name)? {
        Field::Param(Param::Text(s)) => Some(s.clone()),
        _ => None,
    }
}
