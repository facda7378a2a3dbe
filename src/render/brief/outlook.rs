//! The quarterly outlook's sections of the brief document: cells per
//! pattern, casualties by sex and age for the last two quarters, and the
//! trigger calendar of the next three months; with its own labels in
//! English and French (looked up by [`super::i18n::t`] after the shared
//! table).

use super::html::escape;
use super::i18n::{number, t};
use crate::request::brief::outlook::{area_text, persistence, Outlook, GROUPS};
use crate::request::brief::{Area, Brief, Lang};
use std::fmt::Write;

/// `(key, English, French)`.
pub const LABELS: &[(&str, &str, &str)] = &[
    ("title.quarterly-outlook", "Quarterly outlook", "Perspectives trimestrielles"),
    ("map.quarterly-outlook", "Numbers: the listed areas by rank (red intensifying, orange new, purple persistent); dashed red: blind spots.", "Numéros : les zones listées par rang (rouge en intensification, orange nouveau, violet persistant) ; tirets rouges : angles morts."),
    ("section.quarterly-outlook", "Main hot spots of the last quarter", "Principaux points chauds du dernier trimestre"),
    ("rule.quarterly-outlook", "intensifying, then new, then persistent hot spots; then more incidents, then cell key. Persistence: the share of the cube's steps in which the cell was a significant hot spot.", "en intensification, puis nouveaux, puis persistants ; puis le plus d'incidents, puis la clé de cellule. Persistance : part des pas du cube où la cellule était un point chaud significatif."),
    ("how.quarterly-outlook", "Incidents are counted in a space-time cube of square equal-area cells and time steps ending at the as-of date; each bin's Getis-Ord Gi* (FDR-corrected) marks hot steps and each cell gets its emerging hot spot pattern (ESRI's rules), counted per pattern. Casualties are the sums of the incidents' casualty fields over two quarters of 91 days ending at the as-of date, cell by cell as the role receives them (for a partner, only cells and quarters holding at least k incidents), by sex and age where the role may see those fields. Triggers are read from the mission's calendar for the day after the as-of date to three months later; a hot spot is near a trigger when its centre is within the stated distance of the trigger's place or box.", "Les incidents sont comptés dans un cube espace-temps de cellules carrées à aire égale et de pas de temps finissant à la date de situation ; le Gi* de Getis-Ord de chaque case (corrigé FDR) marque les pas chauds et chaque cellule reçoit sa tendance de point chaud émergent (règles d'ESRI), comptée par tendance. Les victimes sont les sommes des champs de victimes des incidents sur deux trimestres de 91 jours finissant à la date de situation, cellule par cellule telles que le rôle les reçoit (pour un partenaire, seulement les cellules et trimestres d'au moins k incidents), par sexe et âge lorsque le rôle peut voir ces champs. Les déclencheurs sont lus dans le calendrier de la mission du lendemain de la date de situation à trois mois plus tard ; un point chaud est proche d'un déclencheur quand son centre est à la distance indiquée du lieu ou du cadre du déclencheur."),
    ("col.persistence", "Persistence", "Persistance"),
    ("q.patterns", "Emerging hot spot patterns (cells)", "Tendances de points chauds émergents (cellules)"),
    ("q.cells", "Cells", "Cellules"),
    ("q.casualties", "Casualties by sex and age", "Victimes par sexe et âge"),
    ("q.group", "Group", "Groupe"),
    ("q.killed", "Killed", "Tués"),
    ("q.injured", "Injured", "Blessés"),
    ("q.previous", "previous quarter", "trimestre précédent"),
    ("q.last", "last quarter", "dernier trimestre"),
    ("q.change", "change", "évolution"),
    ("q.total", "Total", "Total"),
    ("q.incidents", "Incidents", "Incidents"),
    ("q.group.women", "Women", "Femmes"),
    ("q.group.men", "Men", "Hommes"),
    ("q.group.girls", "Girls", "Filles"),
    ("q.group.boys", "Boys", "Garçons"),
    ("q.group.unknown", "Sex or age unknown", "Sexe ou âge inconnu"),
    ("q.no_groups", "By sex and age: not available to this role (the gate does not release those fields); totals only.", "Par sexe et âge : non disponible pour ce rôle (la passerelle ne communique pas ces champs) ; totaux seulement."),
    ("q.quarters", "Quarters (previous; last)", "Trimestres (précédent ; dernier)"),
    ("q.triggers", "Trigger calendar: the next three months", "Calendrier des déclencheurs : les trois prochains mois"),
    ("q.no_calendar", "No trigger calendar was given.", "Aucun calendrier de déclencheurs n'a été fourni."),
    ("q.no_triggers", "No trigger of the calendar falls in these three months.", "Aucun déclencheur du calendrier ne tombe dans ces trois mois."),
    ("q.trigger", "Trigger", "Déclencheur"),
    ("q.kind", "Kind", "Type"),
    ("q.dates", "Dates", "Dates"),
    ("q.days", "Days in window", "Jours dans la période"),
    ("q.area", "Area", "Zone"),
    ("q.near", "Hot spots near (rank)", "Points chauds proches (rang)"),
    ("q.note", "Note", "Note"),
    ("none.short", "none", "aucun"),
    ("q.everywhere", "whole mission area", "toute la zone de la mission"),
    ("q.window", "Calendar window", "Période du calendrier"),
    ("kind.election", "election", "élection"),
    ("kind.market", "market day", "jour de marché"),
    ("kind.season", "season", "saison"),
    ("kind.transhumance", "transhumance", "transhumance"),
    ("kind.holiday", "holiday", "fête"),
    ("kind.other", "other", "autre"),
    ("pattern.diminishing-hot", "diminishing", "en diminution"),
    ("pattern.sporadic-hot", "sporadic", "sporadique"),
    ("pattern.oscillating-hot", "oscillating", "oscillant"),
    ("pattern.historical-hot", "historical", "historique"),
    ("pattern.new-cold", "new cold", "nouveau froid"),
    ("pattern.consecutive-cold", "consecutive cold", "froid consécutif"),
    ("pattern.intensifying-cold", "intensifying cold", "froid en intensification"),
    ("pattern.persistent-cold", "persistent cold", "froid persistant"),
    ("pattern.diminishing-cold", "diminishing cold", "froid en diminution"),
    ("pattern.sporadic-cold", "sporadic cold", "froid sporadique"),
    ("pattern.oscillating-cold", "oscillating cold", "froid oscillant"),
    ("pattern.historical-cold", "historical cold", "froid historique"),
];

/// The persistence cell of an area's row in the areas table.
pub fn persistence_cell(brief: &Brief, a: &Area) -> String {
    let steps = brief.outlook.as_ref().map_or(0, |o| o.steps);
    format!(
        "<td class=\"n\">{} %</td>",
        number(
            brief.request.lang,
            100.0 * persistence(a.hot_steps, steps),
            0
        )
    )
}

/// The sections after the areas table: patterns, casualties, triggers.
pub fn sections(h: &mut String, brief: &Brief) {
    let Some(o) = &brief.outlook else {
        return;
    };
    let lang = brief.request.lang;
    let l = |k: &str| escape(&t(lang, k));
    let _ = writeln!(h, "<h2>{}</h2>", l("q.patterns"));
    if o.patterns.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", l("none"));
    } else {
        h.push_str("<table>\n<thead><tr>");
        for (p, _) in &o.patterns {
            let _ = write!(h, "<th>{}</th>", l(&format!("pattern.{p}")));
        }
        h.push_str("</tr></thead>\n<tbody><tr>");
        for (_, n) in &o.patterns {
            let _ = write!(h, "<td class=\"n\">{n}</td>");
        }
        h.push_str("</tr></tbody>\n</table>\n");
    }
    casualties(h, lang, o);
    triggers(h, lang, o);
}

fn casualties(h: &mut String, lang: Lang, o: &Outlook) {
    let l = |k: &str| escape(&t(lang, k));
    let _ = writeln!(h, "<h2>{}</h2>", l("q.casualties"));
    let [prev, last] = &o.quarters;
    let _ = writeln!(
        h,
        "<p>{}: {} — {}; {} — {}</p>",
        l("q.quarters"),
        escape(&prev.from[..10.min(prev.from.len())]),
        escape(&prev.to[..10.min(prev.to.len())]),
        escape(&last.from[..10.min(last.from.len())]),
        escape(&last.to[..10.min(last.to.len())]),
    );
    let _ = write!(
        h,
        "<table>\n<thead><tr><th>{}</th><th>{}, {}</th><th>{}, {}</th><th>{}</th><th>{}, {}</th><th>{}, {}</th><th>{}</th></tr></thead>\n<tbody>\n",
        l("q.group"),
        l("q.killed"),
        l("q.previous"),
        l("q.killed"),
        l("q.last"),
        l("q.change"),
        l("q.injured"),
        l("q.previous"),
        l("q.injured"),
        l("q.last"),
        l("q.change"),
    );
    let n = |x: f64| number(lang, x, 0);
    let change = |a: f64, b: f64| {
        let d = b - a;
        if d > 0.0 {
            format!("+{}", n(d))
        } else {
            n(d)
        }
    };
    let mut row = |name: String, k: [f64; 2], i: [f64; 2], bold: bool| {
        let (a, b) = if bold { ("<b>", "</b>") } else { ("", "") };
        let _ = writeln!(
            h,
            "<tr><td>{a}{}{b}</td><td class=\"n\">{a}{}{b}</td><td class=\"n\">{a}{}{b}</td><td class=\"n\">{}</td><td class=\"n\">{a}{}{b}</td><td class=\"n\">{a}{}{b}</td><td class=\"n\">{}</td></tr>",
            escape(&name),
            n(k[0]),
            n(k[1]),
            change(k[0], k[1]),
            n(i[0]),
            n(i[1]),
            change(i[0], i[1]),
        );
    };
    let groups = prev
        .killed_by
        .zip(prev.injured_by)
        .zip(last.killed_by.zip(last.injured_by));
    if let Some(((pk, pi), (lk, li))) = groups {
        for (j, g) in GROUPS.iter().enumerate() {
            row(
                t(lang, &format!("q.group.{g}")),
                [pk[j], lk[j]],
                [pi[j], li[j]],
                false,
            );
        }
    }
    row(
        t(lang, "q.total"),
        [prev.killed, last.killed],
        [prev.injured, last.injured],
        true,
    );
    let _ = writeln!(
        h,
        "<tr><td>{}</td><td class=\"n\" colspan=\"2\">{} → {}</td><td class=\"n\">{}</td><td colspan=\"3\"></td></tr>",
        l("q.incidents"),
        prev.incidents,
        last.incidents,
        change(prev.incidents as f64, last.incidents as f64),
    );
    h.push_str("</tbody>\n</table>\n");
    if groups.is_none() {
        let _ = writeln!(h, "<p class=\"rule\">{}</p>", l("q.no_groups"));
    }
}

fn triggers(h: &mut String, lang: Lang, o: &Outlook) {
    let l = |k: &str| escape(&t(lang, k));
    let _ = writeln!(
        h,
        "<h2>{} ({} — {})</h2>",
        l("q.triggers"),
        escape(&super::i18n::date(lang, day_utc(o.window.0))),
        escape(&super::i18n::date(lang, day_utc(o.window.1))),
    );
    if !o.calendar {
        let _ = writeln!(h, "<p>{}</p>", l("q.no_calendar"));
        return;
    }
    if o.triggers.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", l("q.no_triggers"));
        return;
    }
    h.push_str("<table>\n<thead><tr>");
    for c in [
        "q.trigger",
        "q.kind",
        "q.dates",
        "q.days",
        "q.area",
        "q.near",
        "q.note",
    ] {
        let _ = write!(h, "<th>{}</th>", l(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for u in &o.triggers {
        let tr = &u.trigger;
        let dates = if u.occurrence.first == u.occurrence.last {
            u.occurrence.first.to_string()
        } else {
            format!("{} — {}", u.occurrence.first, u.occurrence.last)
        };
        let area = match &tr.area {
            crate::request::brief::calendar::Where::Everywhere => t(lang, "q.everywhere"),
            w => area_text(w),
        };
        let near = match &u.near {
            None => "—".to_string(),
            Some(v) if v.is_empty() => t(lang, "none.short"),
            Some(v) => v
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&tr.name),
            l(&format!("kind.{}", tr.kind.as_str())),
            escape(&dates),
            u.occurrence.days,
            escape(&area),
            escape(&near),
            escape(tr.note.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn day_utc(d: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    d.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc()
}

/// The outlook's rows of the "how this was computed" box.
pub fn how_rows(brief: &Brief, row: &mut dyn FnMut(&str, String)) {
    let lang = brief.request.lang;
    row(
        "p.near",
        format!("{} km", number(lang, brief.request.near_km, 1)),
    );
    if let Some(o) = &brief.outlook {
        row("q.window", format!("{} — {}", o.window.0, o.window.1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlook_labels_are_new_keys_in_both_languages() {
        let shared = ["title.weekly-hotspot", "col.rank", "pattern.new-hot"];
        let mut keys: Vec<&str> = LABELS.iter().map(|l| l.0).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key is repeated");
        for (k, en, fr) in LABELS {
            assert!(!en.is_empty() && !fr.is_empty(), "{k}");
            // A key of the shared table would be shadowed by it.
            assert!(!shared.contains(k), "{k}");
            assert_eq!(t(Lang::Fr, k), *fr, "{k} is shadowed");
        }
        assert_eq!(t(Lang::Fr, "q.group.girls"), "Filles");
    }
}
