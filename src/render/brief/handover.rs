//! The handover pack as one HTML document of one to two A4 pages: the
//! "what to know" list, maps of then and now side by side (one frame), hot
//! spots then against now, incidents per month and category, armed-group
//! sightings by half, patrol coverage, blind spots, bases, and the "how
//! this was computed" box. Everything written is what the gated parts
//! returned ([`crate::request::brief::handover`]).

use super::html::{escape, figure, meta_text, STYLE};
use super::i18n::{date, number, t};
use super::map::{self, bounds};
use crate::analysis::product::{Field, Param};
use crate::render::tiles::TileError;
use crate::request::brief::handover::{Handover, HotChange, SightChange, COVERED, PRESENCE_DAYS};
use crate::request::brief::{Area, Brief, PartCell};
use std::fmt::Write;

/// The most rows a table of the document lists; the GeoJSON and CSV hold
/// every one.
pub const MAX_ROWS: usize = 6;

const EXTRA_STYLE: &str = "
.pair { display: flex; gap: 2mm; break-inside: avoid; page-break-inside: avoid; }
.pair figure { flex: 1 1 0; min-width: 0; }
.pair .map img { width: 100%; }
ol.know { margin: 1mm 0 2mm 0; padding-left: 6mm; columns: 2; column-gap: 8mm; }
ol.know li { margin: 0.5mm 0; }
p.summary { margin: 1mm 0; }
body { font-size: 8.5pt; line-height: 1.2; }
table { font-size: 7pt; margin: 0.5mm 0 1mm 0; }
h2 { font-size: 11pt; margin: 3mm 0 1mm 0; }
.how, .rule, figcaption { font-size: 7pt; }
.pair .map img { max-height: 48mm; width: auto; }
ol.know li { margin: 0; }
.how { padding: 1.5mm; margin-top: 2mm; break-inside: auto; page-break-inside: auto; }
.how dl { grid-template-columns: max-content 1fr max-content 1fr; }
";

/// The pack as an HTML document.
pub fn document(brief: &Brief, ho: &Handover) -> Result<String, TileError> {
    let lang = brief.request.lang;
    let l = |k: &str| escape(&t(lang, k));
    let mut h = String::new();
    let role = brief.role.clone().unwrap_or_else(|| t(lang, "operator"));
    let classification = if brief.role.as_deref() == Some("partner") {
        t(lang, "class.partner")
    } else {
        t(lang, "class.restricted")
    };
    let title = t(lang, "title.handover");
    let period = format!(
        "{} — {} ({} {})",
        date(lang, ho.start),
        date(lang, brief.request.as_of),
        ho.months.get(),
        t(lang, "ho.months")
    );
    // Writing to a String cannot fail.
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title} — {date}</title>\n<style>{STYLE}{EXTRA_STYLE}</style>\n</head>\n<body>\n\
         <div class=\"classification\">{class}</div>\n<header>\n<h1>{title}</h1>\n<dl>\n\
         <dt>{l_mission}</dt><dd>{mission}</dd>\n<dt>{l_asof}</dt><dd>{date}</dd>\n\
         <dt>{l_period}</dt><dd>{period}</dd>\n<dt>{l_aor}</dt><dd>{aor}</dd>\n\
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
        l_period = l("ho.period"),
        period = escape(&period),
        l_aor = l("ho.aor"),
        aor = escape(&brief.request.bbox.map_or_else(
            || t(lang, "ho.aor.all"),
            |b| format!("{}, {}, {}, {}", b[0], b[1], b[2], b[3])
        )),
        l_role = l("made_for"),
        role = escape(&role),
    );
    know(&mut h, brief, ho);
    maps(&mut h, brief, ho)?;
    hot_table(&mut h, brief, ho);
    monthly(&mut h, brief, ho);
    sightings(&mut h, brief, ho);
    coverage(&mut h, brief, ho);
    blind(&mut h, brief, ho);
    bases(&mut h, brief, ho);
    let _ = writeln!(
        h,
        "<p class=\"rule\"><b>{}:</b> {}</p>",
        l("ho.rules"),
        l("rule.handover")
    );
    how(&mut h, brief, ho);
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

fn know(h: &mut String, brief: &Brief, ho: &Handover) {
    let lang = brief.request.lang;
    let _ = writeln!(h, "<h2>{}</h2>", escape(&t(lang, "ho.know")));
    if ho.know.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", escape(&t(lang, "ho.know.none")));
        if ho.hot.is_empty() {
            // The line every brief gives when it has no area to report.
            let _ = writeln!(h, "<p>{}</p>", escape(&t(lang, "none")));
        }
        return;
    }
    h.push_str("<ol class=\"know\">\n");
    for k in &ho.know {
        let line = t(lang, &format!("ho.know.{}", k.rule))
            .replace("{s}", &k.subject)
            .replace("{n}", &k.value.to_string());
        let _ = writeln!(h, "<li>{}</li>", escape(&line));
    }
    h.push_str("</ol>\n");
}

/// A brief holding only what one map draws.
fn map_brief(
    brief: &Brief,
    areas: Vec<Area>,
    presence: &[PartCell],
    blind_spots: Vec<crate::request::brief::BlindSpot>,
    sightings: Vec<PartCell>,
) -> Brief {
    Brief {
        kind: brief.kind,
        request: brief.request.clone(),
        role: brief.role.clone(),
        areas,
        presence: presence.to_vec(),
        blind_spots,
        sightings,
        parts: Vec::new(),
        unavailable: Vec::new(),
        handover: None,
        outlook: None,
        threat_matrix: None,
    }
}

fn area(h: &crate::request::brief::handover::HotSpot) -> Area {
    Area {
        cell: h.cell.clone(),
        ring: h.ring.clone(),
        centre: h.centre,
        pattern: h.change.as_str().to_string(),
        previous: None,
        count: h.count.clone(),
        hot_steps: 0,
        presence: h.presence_now,
        blind_spot: None,
        impact5: 1,
        sightings: None,
        status: None,
        likelihood: 0,
        impact: 0,
        priority: None,
        score: 0.0,
        rank: h.label,
    }
}

/// Then and now side by side, in one frame: the AOR, else everything
/// either map draws.
fn maps(h: &mut String, brief: &Brief, ho: &Handover) -> Result<(), TileError> {
    let lang = brief.request.lang;
    let _ = writeln!(h, "<h2>{}</h2>", escape(&t(lang, "ho.maps")));
    let shown = |keep: &dyn Fn(HotChange) -> bool| -> Vec<Area> {
        ho.hot.iter().filter(|x| keep(x.change)).map(area).collect()
    };
    let spots = |now: bool| {
        ho.blind
            .iter()
            .filter(|b| {
                now == matches!(
                    b.change,
                    crate::request::brief::handover::BlindChange::New
                        | crate::request::brief::handover::BlindChange::Persisting
                )
            })
            .map(|b| b.spot.clone())
            .collect::<Vec<_>>()
    };
    let then_b = map_brief(
        brief,
        shown(&|c| c != HotChange::Emerged),
        &ho.presence_then,
        spots(false),
        Vec::new(),
    );
    let sight_now: Vec<PartCell> = ho
        .sightings
        .iter()
        .filter(|s| s.second.is_some_and(|n| n > 0))
        .map(|s| PartCell {
            centre: crate::request::brief::handover::ring_centre(&s.ring),
            ring: s.ring.clone(),
            value: s.second.unwrap_or(0) as f64,
        })
        .collect();
    let now_b = map_brief(
        brief,
        shown(&|c| c != HotChange::Faded),
        &ho.presence_now,
        spots(true),
        sight_now,
    );
    let extent = brief.request.bbox.or_else(|| {
        let hot: Vec<[f64; 2]> = ho.hot.iter().flat_map(|x| x.ring.clone()).collect();
        let b = bounds(&hot).or_else(|| {
            let all: Vec<[f64; 2]> = [&then_b, &now_b]
                .iter()
                .flat_map(|b| {
                    b.presence
                        .iter()
                        .flat_map(|c| c.ring.clone())
                        .chain(b.blind_spots.iter().flat_map(|s| s.rings.concat()))
                })
                .collect();
            bounds(&all)
        })?;
        let m = ((b[2] - b[0]).max(b[3] - b[1]) / 4.0).max(0.1);
        Some([b[0] - m, b[1] - m, b[2] + m, b[3] + m])
    });
    let (Some(a), Some(b)) = (
        map::draw_within(&then_b, extent)?,
        map::draw_within(&now_b, extent)?,
    ) else {
        let _ = writeln!(h, "<p>{}</p>", escape(&t(lang, "map.none")));
        return Ok(());
    };
    // Numbers only for the rows the table lists.
    let (mut a, mut b) = (a, b);
    a.labels.retain(|l| l.2 <= MAX_ROWS);
    b.labels.retain(|l| l.2 <= MAX_ROWS);
    h.push_str("<div class=\"pair\">\n");
    figure(
        h,
        &a,
        &escape(&t(lang, "ho.map.then").replace("{d}", &date(lang, ho.start))),
    );
    figure(
        h,
        &b,
        &escape(&t(lang, "ho.map.now").replace("{d}", &date(lang, brief.request.as_of))),
    );
    h.push_str("</div>\n");
    let _ = writeln!(
        h,
        "<p class=\"rule\">{}</p>",
        escape(&t(lang, "map.handover"))
    );
    Ok(())
}

/// A pattern's label: the handover's own (every hot pattern), else the
/// briefs' (`t` writes a name without a label as it is).
fn pattern(lang: crate::request::brief::Lang, p: &str) -> String {
    let s = t(lang, &format!("ho.pattern.{p}"));
    if s == p {
        t(lang, &format!("pattern.{p}"))
    } else {
        s
    }
}

fn count_text(lang: crate::request::brief::Lang, f: &Field) -> String {
    match f {
        Field::Count { n, .. } => n.to_string(),
        _ => t(lang, "suppressed"),
    }
}

fn head(h: &mut String, lang: crate::request::brief::Lang, cols: &[&str]) {
    h.push_str("<table>\n<thead><tr>");
    for c in cols {
        let _ = write!(h, "<th>{}</th>", escape(&t(lang, c)));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
}

fn more(h: &mut String, lang: crate::request::brief::Lang, n: usize) {
    if n > MAX_ROWS {
        let _ = writeln!(
            h,
            "<p>{}</p>",
            escape(&t(lang, "ho.more").replace("{n}", &(n - MAX_ROWS).to_string()))
        );
    }
}

fn hot_table(h: &mut String, brief: &Brief, ho: &Handover) {
    let lang = brief.request.lang;
    let _ = writeln!(h, "<h2>{}</h2>", escape(&t(lang, "ho.hot")));
    let n = |c: HotChange| ho.hot.iter().filter(|x| x.change == c).count();
    let _ = writeln!(
        h,
        "<p class=\"summary\">{}</p>",
        escape(
            &t(lang, "ho.hot.summary")
                .replace("{e}", &n(HotChange::Emerged).to_string())
                .replace("{p}", &n(HotChange::Persisted).to_string())
                .replace("{f}", &n(HotChange::Faded).to_string())
        )
    );
    if ho.hot.is_empty() {
        return;
    }
    head(
        h,
        lang,
        &[
            "col.rank",
            "col.cell",
            "ho.col.change",
            "ho.col.then",
            "ho.col.now",
            "col.count",
            "ho.col.presence_now",
            "col.blind",
        ],
    );
    for x in ho.hot.iter().take(MAX_ROWS) {
        let c = map::area_colour(brief.kind, x.change.as_str(), None);
        let blind = x.blind_now.as_ref().map_or_else(
            || "—".to_string(),
            |(k, r)| format!("{} #{r}", t(lang, &format!("blind.{k}"))),
        );
        let _ = writeln!(
            h,
            "<tr><td class=\"n\">{}</td><td>{}</td><td><span class=\"swatch\" style=\"background:rgb({},{},{})\"></span>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            x.label,
            escape(&x.cell),
            c.0,
            c.1,
            c.2,
            escape(&t(lang, &format!("ho.change.{}", x.change.as_str()))),
            escape(&pattern(lang, &x.then)),
            escape(&pattern(lang, &x.now)),
            escape(&count_text(lang, &x.count)),
            number(lang, x.presence_now, 2),
            escape(&blind),
        );
    }
    h.push_str("</tbody>\n</table>\n");
    more(h, lang, ho.hot.len());
}

fn monthly(h: &mut String, brief: &Brief, ho: &Handover) {
    let lang = brief.request.lang;
    let _ = writeln!(h, "<h2>{}</h2>", escape(&t(lang, "ho.monthly")));
    let m = &ho.monthly;
    if m.steps.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", escape(&t(lang, "ho.monthly.none")));
        return;
    }
    h.push_str("<table>\n<thead><tr>");
    let _ = write!(h, "<th>{}</th>", escape(&t(lang, "ho.col.category")));
    for s in &m.steps {
        // The step's first day.
        let _ = write!(h, "<th>{}</th>", escape(s.get(..10).unwrap_or(s)));
    }
    let _ = write!(h, "<th>{}</th>", escape(&t(lang, "ho.col.total")));
    h.push_str("</tr></thead>\n<tbody>\n");
    for (c, counts) in &m.rows {
        let _ = write!(
            h,
            "<tr><td>{}</td>",
            escape(&t(lang, &format!("ho.cat.{c}")))
        );
        for n in counts {
            let _ = write!(h, "<td class=\"n\">{n}</td>");
        }
        let _ = writeln!(
            h,
            "<td class=\"n\"><b>{}</b></td></tr>",
            counts.iter().sum::<u64>()
        );
    }
    h.push_str("</tbody>\n</table>\n");
    let _ = writeln!(
        h,
        "<p class=\"rule\">{}</p>",
        escape(&t(lang, "ho.monthly.note").replace("{d}", &number(lang, m.step_days, 0)))
    );
    if brief
        .unavailable
        .iter()
        .any(|(n, _)| *n == "monthly_by_category")
    {
        let _ = writeln!(
            h,
            "<p class=\"rule\">{}</p>",
            escape(&t(lang, "ho.monthly.unsplit"))
        );
    }
}

fn sightings(h: &mut String, brief: &Brief, ho: &Handover) {
    let lang = brief.request.lang;
    let _ = writeln!(h, "<h2>{}</h2>", escape(&t(lang, "ho.sightings")));
    if brief.unavailable.iter().any(|(n, _)| *n == "sightings") {
        let _ = writeln!(h, "<p>{}</p>", escape(&t(lang, "not_available")));
        return;
    }
    let n = |c: SightChange| ho.sightings.iter().filter(|x| x.change == c).count();
    let _ = writeln!(
        h,
        "<p class=\"summary\">{}</p>",
        escape(
            &t(lang, "ho.sightings.summary")
                .replace("{d}", &number(lang, ho.half_days, 0))
                .replace("{a}", &n(SightChange::Appeared).to_string())
                .replace("{u}", &n(SightChange::Up).to_string())
                .replace("{s}", &n(SightChange::Same).to_string())
                .replace("{w}", &n(SightChange::Down).to_string())
                .replace("{g}", &n(SightChange::Gone).to_string())
        )
    );
    // The cells that changed most, first.
    let mut rows: Vec<_> = ho
        .sightings
        .iter()
        .filter(|s| s.change != SightChange::Same)
        .collect();
    let diff = |s: &crate::request::brief::handover::SightCell| {
        (s.second.unwrap_or(0) as i64 - s.first.unwrap_or(0) as i64).abs()
    };
    rows.sort_by(|a, b| diff(b).cmp(&diff(a)).then_with(|| a.cell.cmp(&b.cell)));
    if rows.is_empty() {
        return;
    }
    head(
        h,
        lang,
        &["col.cell", "ho.col.first", "ho.col.second", "ho.col.change"],
    );
    let opt = |n: Option<u64>| n.map_or_else(|| t(lang, "suppressed"), |n| n.to_string());
    for s in rows.iter().take(MAX_ROWS / 2) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(&s.cell),
            escape(&opt(s.first)),
            escape(&opt(s.second)),
            escape(&t(lang, &format!("ho.sight.{}", s.change.as_str())))
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn coverage(h: &mut String, brief: &Brief, ho: &Handover) {
    use crate::request::brief::handover::CoverChange;
    let lang = brief.request.lang;
    let _ = writeln!(h, "<h2>{}</h2>", escape(&t(lang, "ho.coverage")));
    if brief
        .unavailable
        .iter()
        .any(|(n, _)| n.starts_with("coverage"))
    {
        let _ = writeln!(h, "<p>{}</p>", escape(&t(lang, "not_available")));
        return;
    }
    let n = |c: CoverChange| ho.coverage.iter().filter(|x| x.change == c).count();
    let _ = writeln!(
        h,
        "<p class=\"summary\">{}</p>",
        escape(
            &t(lang, "ho.coverage.summary")
                .replace("{c}", &number(lang, COVERED, 1))
                .replace("{g}", &n(CoverChange::Gained).to_string())
                .replace("{l}", &n(CoverChange::Lost).to_string())
                .replace("{k}", &ho.covered_kept.to_string())
        )
    );
}

fn blind(h: &mut String, brief: &Brief, ho: &Handover) {
    let lang = brief.request.lang;
    let _ = writeln!(h, "<h2>{}</h2>", escape(&t(lang, "ho.blind")));
    if brief
        .unavailable
        .iter()
        .any(|(n, _)| n.starts_with("blindspots"))
    {
        let _ = writeln!(h, "<p>{}</p>", escape(&t(lang, "not_available")));
        return;
    }
    if ho.blind.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", escape(&t(lang, "ho.blind.none")));
        return;
    }
    head(
        h,
        lang,
        &[
            "ho.col.change",
            "ho.col.kind",
            "col.rank",
            "ho.col.sites",
            "ho.col.people",
        ],
    );
    for b in ho.blind.iter().take(MAX_ROWS) {
        let (sites, people) = b.sites.map_or_else(
            || (t(lang, "suppressed"), t(lang, "suppressed")),
            |(n, p)| (n.to_string(), number(lang, p, 0)),
        );
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&t(lang, &format!("ho.blind.{}", b.change.as_str()))),
            escape(&t(lang, &format!("blind.{}", b.spot.kind))),
            b.spot.rank,
            escape(&sites),
            escape(&people),
        );
    }
    h.push_str("</tbody>\n</table>\n");
    more(h, lang, ho.blind.len());
}

fn bases(h: &mut String, brief: &Brief, ho: &Handover) {
    let lang = brief.request.lang;
    let _ = writeln!(h, "<h2>{}</h2>", escape(&t(lang, "ho.bases")));
    let Some(list) = &ho.bases else {
        let _ = writeln!(h, "<p>{}</p>", escape(&t(lang, "not_available")));
        return;
    };
    if list.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", escape(&t(lang, "ho.bases.none")));
        return;
    }
    // Opened and closed bases by name; the kept ones as a count (the GeoJSON
    // and CSV list every one), so the pack stays within two pages.
    let kept = list
        .iter()
        .filter(|b| b.change == crate::request::brief::handover::BaseChange::Kept)
        .count();
    let mut line: Vec<String> = list
        .iter()
        .filter(|b| b.change != crate::request::brief::handover::BaseChange::Kept)
        .map(|b| {
            format!(
                "{} ({})",
                if b.name.is_empty() { &b.id } else { &b.name },
                t(lang, &format!("ho.base.{}", b.change.as_str()))
            )
        })
        .collect();
    if kept > 0 {
        line.push(format!("{}: {kept}", t(lang, "ho.base.kept")));
    }
    let _ = writeln!(h, "<p class=\"summary\">{}</p>", escape(&line.join("; ")));
}

/// The "how this was computed" box.
fn how(h: &mut String, brief: &Brief, ho: &Handover) {
    let lang = brief.request.lang;
    let l = |k: &str| escape(&t(lang, k));
    let _ = writeln!(
        h,
        "<section class=\"how\"><h2>{}</h2>\n<p>{}</p>\n<dl>",
        l("how"),
        l("how.handover")
    );
    let mut row = |k: &str, v: String| {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", l(k), escape(&v));
    };
    let days = t(lang, "days");
    row(
        "p.cell",
        format!("{} km", number(lang, brief.request.cell_km, 1)),
    );
    row(
        "ho.p.period",
        format!(
            "{} — {}",
            date(lang, ho.start),
            date(lang, brief.request.as_of)
        ),
    );
    for (name, label) in [
        ("trends_now", "ho.p.trends_now"),
        ("trends_then", "ho.p.trends_then"),
    ] {
        if let Some((_, p)) = brief.parts.iter().find(|(n, _)| *n == name) {
            let step = meta_text(p, "step_days").unwrap_or_default();
            let steps = meta_text(p, "steps").unwrap_or_default();
            let events = meta_text(p, "events").unwrap_or_else(|| t(lang, "suppressed"));
            row(
                label,
                format!("{steps} x {step} {days}; {} {events}", t(lang, "p.events")),
            );
        }
    }
    row(
        "ho.p.presence",
        format!("{} {days}, ≥ {}", PRESENCE_DAYS, number(lang, COVERED, 1)),
    );
    if let Some((_, trends)) = brief.parts.iter().find(|(n, _)| *n == "trends_now") {
        if let Some(s) = meta_text(trends, "data_version") {
            row("p.data_version", s);
        }
        if let Some(Field::Param(Param::Object(gate))) = trends.meta("gate") {
            if let Some((_, Param::Text(sha))) = gate.iter().find(|(k, _)| *k == "policy_sha256") {
                row("p.policy", sha.clone());
            }
        }
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
