//! The threat-matrix draft as a document (the 5x5 matrix with the threats
//! placed in it, the map and the table, the "how this was computed" box)
//! and the brief's layer parts: bases, sites and sightings read through
//! the role's feature view ([`crate::access::Gate::features`]), the only
//! way individual features reach a brief.

use super::html::{escape, figure, STYLE};
use super::i18n::{date, number};
use super::map;
use crate::access::{AccessError, Gate, LayerView, Principal};
use crate::analysis::product::{Field, Item, Param, Product, Shape};
use crate::analysis::threat::RiskLevel;
use crate::model::Feature;
use crate::render::tiles::TileError;
use crate::request::brief::{Brief, Lang, LayerRequest, MatrixThreat};
use crate::store::{FeatureSource, Query};
use serde_json::Value;
use std::fmt::Write;

/// A layer part for `principal`: the features the role's view shows
/// (refused for an aggregates-only view, and for a redacted one when the
/// request asks for a full view), with only their position, name,
/// population and actor, as the view showed them.
pub fn layer_through_gate(
    gate: &Gate,
    principal: &Principal,
    store: &dyn FeatureSource,
    req: &LayerRequest,
) -> crate::Result<Product> {
    let view = gate.features(principal, req.layer)?;
    if req.full_only && view.view() != LayerView::Full {
        return Err(AccessError::Forbidden {
            reason: format!(
                "role {} may not see individual {} in a brief",
                principal.role, req.layer
            ),
        }
        .into());
    }
    read(store, req, view.view().as_str(), &|f| view.show(f))
}

/// A layer part as the operator: every feature.
pub fn layer_as_operator(store: &dyn FeatureSource, req: &LayerRequest) -> crate::Result<Product> {
    read(store, req, "operator", &|f| Some(f.to_geojson()))
}

fn read(
    store: &dyn FeatureSource,
    req: &LayerRequest,
    view: &str,
    show: &dyn Fn(&Feature) -> Option<Value>,
) -> crate::Result<Product> {
    use geo::Centroid;
    let query = Query {
        bbox: req.bbox,
        from: req.from,
        to: Some(req.to),
    };
    let mut p = Product::new("layer");
    store.query(req.layer, &query, &mut |f| {
        // Places exist at the as-of time; events began by then.
        let exists = f.time.start <= req.to
            && (req.from.is_some() || f.time.end.is_none_or(|e| e >= req.to));
        let (Some(c), true) = (f.geometry.centroid(), exists) else {
            return Ok(());
        };
        let Some(shown) = show(&f) else {
            return Ok(());
        };
        let props = shown.get("properties").and_then(Value::as_object);
        let get = |k: &str| props.and_then(|m| m.get(k));
        let mut fields = Vec::new();
        if let Some(n) = get("name").and_then(Value::as_str) {
            fields.push(("name", Field::Key(n.to_string())));
        }
        if let Some(n) = get("population").and_then(Value::as_f64) {
            fields.push(("population", Field::Value(n)));
        }
        if let Some(a) = get("actor").and_then(Value::as_str) {
            fields.push(("actor", Field::Key(a.to_string())));
        }
        p.items.push(Item {
            id: Field::Key(f.id.clone()),
            geometry: Shape::Point([c.x(), c.y()]),
            properties: fields,
        });
        Ok(())
    })?;
    p.meta.extend([
        ("layer", Field::param(req.layer.name())),
        ("view", Field::param(view)),
        ("features", Field::Tally(p.items.len() as u64)),
    ]);
    Ok(p)
}

/// `(key, English, French)`: this document's labels.
const LABELS: &[(&str, &str, &str)] = &[
    ("title", "Threat matrix — draft for analysts", "Matrice des menaces — projet pour les analystes"),
    ("mission", "Mission", "Mission"),
    ("as_of", "As of", "Situation au"),
    ("made_for", "Made for role", "Établi pour le rôle"),
    ("operator", "operator (full data)", "opérateur (données complètes)"),
    ("class.partner", "UN — shareable with partners: aggregated figures, small counts suppressed, no individual record", "ONU — partageable avec les partenaires : chiffres agrégés, petits effectifs masqués, aucun enregistrement individuel"),
    ("class.restricted", "UN RESTRICTED — for the named role only; do not forward", "ONU DIFFUSION RESTREINTE — réservé au rôle indiqué ; ne pas transférer"),
    ("draft", "DRAFT pre-filled from the data: analysts complete mitigation, owner and notes (edit the CSV in a spreadsheet).", "PROJET pré-rempli à partir des données : les analystes complètent mesures, responsable et notes (modifier le CSV dans un tableur)."),
    ("matrix", "Likelihood x impact (POC handbook 5x5 grid)", "Probabilité x impact (grille 5x5 du manuel POC)"),
    ("likelihood", "Likelihood", "Probabilité"),
    ("impact", "Impact", "Impact"),
    ("map", "Map", "Carte"),
    ("map.caption", "Numbers: each threat's peak cell, coloured by risk level (dark red extreme, red high, orange medium, yellow low); dashed red: the threat's cells; blue: patrol presence in the last 30 days.", "Numéros : la cellule de pointe de chaque menace, colorée selon le niveau de risque (rouge foncé extrême, rouge élevé, orange moyen, jaune faible) ; tirets rouges : les cellules de la menace ; bleu : présence des patrouilles sur les 30 derniers jours."),
    ("map.none", "Nothing to draw as of this date.", "Rien à cartographier à cette date."),
    ("threats", "Threats", "Menaces"),
    ("none", "No threat reaches the minimum risk level as of this date.", "Aucune menace n'atteint le niveau de risque minimal à cette date."),
    ("col.n", "No.", "N°"),
    ("col.location", "Location", "Localisation"),
    ("col.type", "Type (incidents)", "Type (incidents)"),
    ("col.actors", "Actors", "Acteurs"),
    ("col.civilians", "Civilians at risk", "Civils exposés"),
    ("col.base", "Nearest base", "Base la plus proche"),
    ("col.coverage", "Presence 7 d / 30 d", "Présence 7 j / 30 j"),
    ("col.response", "Patrol visits (window)", "Visites de patrouille (fenêtre)"),
    ("col.lxi", "L x I = risk", "P x I = risque"),
    ("col.edit", "Mitigation / owner / notes", "Mesures / responsable / notes"),
    ("armed", "armed groups", "groupes armés"),
    ("people", "people", "personnes"),
    ("sites", "sites", "sites"),
    ("na", "not available to this role", "non disponible pour ce rôle"),
    ("suppressed", "suppressed", "masqué"),
    ("near", "near", "près de"),
    ("level.low", "low", "faible"),
    ("level.medium", "medium", "moyen"),
    ("level.high", "high", "élevé"),
    ("level.extreme", "extreme", "extrême"),
    ("more", "{n} more threats are in the GeoJSON and CSV of this draft.", "{n} autres menaces figurent dans le GeoJSON et le CSV de ce projet."),
    ("rule", "Rule", "Règle"),
    ("rule.text", "A threat is a set of edge-connected cells of the risk surface at or above the minimum risk level (likelihood x impact on the 5x5 grid: 1-4 low, 5-9 medium, 10-16 high, 20-25 extreme). Its likelihood and impact are those of its peak cell (highest risk, then likelihood, then impact, then cell key) and its id is T- followed by that cell's key. Threats are ordered by risk, likelihood, impact and number of cells, then id.", "Une menace est un ensemble de cellules de la surface de risque reliées par un côté, au niveau de risque minimal ou au-dessus (probabilité x impact sur la grille 5x5 : 1-4 faible, 5-9 moyen, 10-16 élevé, 20-25 extrême). Sa probabilité et son impact sont ceux de sa cellule de pointe (risque le plus élevé, puis probabilité, puis impact, puis clé de cellule) et son identifiant est T- suivi de la clé de cette cellule. Les menaces sont ordonnées par risque, probabilité, impact et nombre de cellules, puis identifiant."),
    ("how", "How this was computed", "Méthode de calcul"),
    ("how.text", "The risk surface is the blind-spot analysis's: per square equal-area cell, a recency-weighted density of incidents and armed-group sightings smoothed by a kernel gives the threat, banded into likelihood 1-5; the kernel-weighted severity of what happened, plus one near a highly vulnerable civilian site, gives impact 1-5. Incidents per category and per perpetrator category are counted in the threat's cells; armed groups are the actors of sightings in or near it; civilian sites in or near it give the population at risk; the nearest base open at the as-of date and its distance are taken from the threat's centre; presence is the patrol and base presence averaged over its cells, and patrol visits are the cell-visits of patrols in the window. Every figure comes from an analysis run through the access gate for the role.", "La surface de risque est celle de l'analyse des angles morts : par cellule carrée à aire égale, une densité pondérée par la récence des incidents et des observations de groupes armés, lissée par un noyau, donne la menace, répartie en probabilité 1-5 ; la gravité pondérée par le noyau de ce qui s'est passé, plus un près d'un site civil très vulnérable, donne l'impact 1-5. Les incidents par catégorie et par catégorie d'auteur sont comptés dans les cellules de la menace ; les groupes armés sont les acteurs des observations dans ou près de la menace ; les sites civils dans ou près de la menace donnent la population exposée ; la base ouverte la plus proche à la date de situation et sa distance sont prises depuis le centre de la menace ; la présence est la présence des patrouilles et des bases moyennée sur ses cellules, et les visites de patrouille sont les visites de cellules par les patrouilles dans la fenêtre. Chaque chiffre provient d'une analyse passée par la passerelle d'accès pour le rôle."),
    ("p.window", "Data window", "Fenêtre de données"),
    ("p.cell", "Cell size", "Taille des cellules"),
    ("p.min_risk", "Minimum risk level", "Niveau de risque minimal"),
    ("p.near", "In or near: within", "Dans ou près : à moins de"),
    ("p.threats", "Threats", "Menaces"),
    ("p.data_version", "Store data version", "Version des données"),
    ("p.policy", "Access policy (SHA-256)", "Politique d'accès (SHA-256)"),
    ("p.unavailable", "Parts not available to this role", "Éléments non disponibles pour ce rôle"),
];

/// The label `key` in `lang`.
pub fn label(lang: Lang, key: &str) -> String {
    LABELS.iter().find(|(k, _, _)| *k == key).map_or_else(
        || key.to_string(),
        |(_, en, fr)| match lang {
            Lang::En => (*en).to_string(),
            Lang::Fr => (*fr).to_string(),
        },
    )
}

/// The background of a risk level on the matrix.
fn level_colour(level: RiskLevel) -> &'static str {
    match level {
        RiskLevel::Extreme => "#b2182b",
        RiskLevel::High => "#ef8a62",
        RiskLevel::Medium => "#fddbc7",
        RiskLevel::Low => "#e0f0e0",
    }
}

/// The most threats the document lists, so that it stays within two
/// pages; the GeoJSON and CSV hold every threat.
pub const MAX_ROWS: usize = 5;

/// The draft as an HTML document.
pub fn document(brief: &Brief) -> Result<String, TileError> {
    let lang = brief.request.lang;
    let l = |k: &str| escape(&label(lang, k));
    let empty = Vec::new();
    let threats = brief.threat_matrix.as_ref().map_or(&empty, |m| &m.threats);
    let classification = if brief.role.as_deref() == Some("partner") {
        label(lang, "class.partner")
    } else {
        label(lang, "class.restricted")
    };
    let role = brief
        .role
        .clone()
        .unwrap_or_else(|| label(lang, "operator"));
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title} — {date}</title>\n<style>{STYLE}\
         .matrix td {{ width: 14mm; height: 9mm; text-align: center; font-weight: bold; }}\n\
         .matrix {{ width: auto; }}\n.threats {{ font-size: 7.5pt; }}\n.map img {{ max-height: 60mm; width: auto; }}\n\
         body {{ font-size: 9pt; }}\nh2 {{ margin: 3mm 0 1mm 0; }}\n.how {{ font-size: 7.5pt; }}\n.draft {{ font-weight: bold; }}\n</style>\n</head>\n<body>\n\
         <div class=\"classification\">{class}</div>\n<header>\n<h1>{title}</h1>\n<dl>\n\
         <dt>{l_mission}</dt><dd>{mission}</dd>\n<dt>{l_asof}</dt><dd>{date}</dd>\n\
         <dt>{l_role}</dt><dd>{role}</dd>\n</dl>\n</header>\n<p class=\"draft\">{draft}</p>\n",
        code = lang.code(),
        title = l("title"),
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
        draft = l("draft"),
    );
    matrix(&mut h, lang, threats);
    let _ = writeln!(h, "<h2>{}</h2>", l("map"));
    match map::draw(brief)? {
        Some(img) => figure(&mut h, &img, &l("map.caption")),
        None => {
            let _ = writeln!(h, "<p>{}</p>", l("map.none"));
        }
    }
    let _ = writeln!(h, "<h2>{}</h2>", l("threats"));
    table(&mut h, lang, threats);
    if threats.len() > MAX_ROWS {
        let more = label(lang, "more").replace("{n}", &(threats.len() - MAX_ROWS).to_string());
        let _ = writeln!(h, "<p>{}</p>", escape(&more));
    }
    let _ = writeln!(
        h,
        "<p class=\"rule\"><b>{}:</b> {}</p>",
        l("rule"),
        l("rule.text")
    );
    how(&mut h, brief, threats.len());
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

/// The 5x5 grid, likelihood 5 at the top, impact 1 on the left, each
/// square holding the numbers of the threats placed in it.
fn matrix(h: &mut String, lang: Lang, threats: &[MatrixThreat]) {
    let l = |k: &str| escape(&label(lang, k));
    let _ = writeln!(h, "<h2>{}</h2>", l("matrix"));
    let _ = write!(
        h,
        "<table class=\"matrix\">\n<thead><tr><th>{} \\ {}</th>",
        l("likelihood"),
        l("impact")
    );
    for i in 1..=5 {
        let _ = write!(h, "<th>{i}</th>");
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for li in (1..=5u8).rev() {
        let _ = write!(h, "<tr><th>{li}</th>");
        for im in 1..=5u8 {
            let here: Vec<String> = threats
                .iter()
                .filter(|t| t.likelihood == li && t.impact == im)
                .map(|t| t.number.to_string())
                .collect();
            let _ = write!(
                h,
                "<td data-l=\"{li}\" data-i=\"{im}\" style=\"background:{}\">{}</td>",
                level_colour(RiskLevel::of(li * im)),
                here.join(" ")
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

fn table(h: &mut String, lang: Lang, threats: &[MatrixThreat]) {
    let l = |k: &str| escape(&label(lang, k));
    if threats.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", l("none"));
        // The line every brief gives when it has no area to report.
        let _ = writeln!(h, "<p>{}</p>", escape(&super::i18n::t(lang, "none")));
        return;
    }
    h.push_str("<table class=\"threats\">\n<thead><tr>");
    for c in [
        "col.n",
        "col.location",
        "col.type",
        "col.actors",
        "col.civilians",
        "col.base",
        "col.coverage",
        "col.response",
        "col.lxi",
        "col.edit",
    ] {
        let _ = write!(h, "<th>{}</th>", l(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    let na = label(lang, "na");
    let list = |v: &Option<Vec<(String, u64)>>| {
        v.as_ref().map_or_else(
            || na.clone(),
            |v| {
                if v.is_empty() {
                    "—".into()
                } else {
                    crate::request::brief::threat_matrix_list(v)
                }
            },
        )
    };
    for t in threats.iter().take(MAX_ROWS) {
        let mut location = format!(
            "{} {}, {} {}",
            number(lang, t.centroid[1].abs(), 3),
            if t.centroid[1] < 0.0 { "S" } else { "N" },
            number(lang, t.centroid[0].abs(), 3),
            if t.centroid[0] < 0.0 { "W" } else { "E" },
        );
        if let Some((name, d)) = &t.place {
            let _ = write!(
                location,
                "; {} {name} ({} km)",
                label(lang, "near"),
                number(lang, *d, 1)
            );
        }
        let mut actors = list(&t.actors);
        if let Some(g) = &t.armed_groups {
            if !g.is_empty() {
                let _ = write!(
                    actors,
                    "; {}: {}",
                    label(lang, "armed"),
                    crate::request::brief::threat_matrix_list(g)
                );
            }
        }
        let civilians = t.sites.as_ref().map_or_else(
            || na.clone(),
            |s| {
                if s.is_empty() {
                    "—".into()
                } else {
                    // The two largest by name: the CSV and GeoJSON list every site.
                    let people: u64 = s.iter().filter_map(|x| x.1).sum();
                    let shown = crate::request::brief::threat_matrix_sites(&s[..s.len().min(2)]);
                    let more = if s.len() > 2 { "; …" } else { "" };
                    format!(
                        "{} {}, {people} {}: {shown}{more}",
                        s.len(),
                        label(lang, "sites"),
                        label(lang, "people")
                    )
                }
            },
        );
        let base = t.base.as_ref().map_or_else(
            || na.clone(),
            |(n, d)| format!("{n} ({} km)", number(lang, *d, 1)),
        );
        let pres = |x: Option<f64>| x.map_or_else(|| na.clone(), |x| number(lang, x, 2));
        let visits = t
            .visits
            .map_or_else(|| label(lang, "suppressed"), |n| n.to_string());
        let _ = writeln!(
            h,
            "<tr><td class=\"n\">{n}<br><small>{id}</small></td><td>{loc}</td><td>{ty}</td>\
             <td>{actors}</td><td>{civ}</td><td>{base}</td><td class=\"n\">{p7} / {p30}</td>\
             <td class=\"n\">{visits}</td><td style=\"background:{bg}\">{li} x {im} = {risk}<br>{level}</td><td></td></tr>",
            n = t.number,
            id = escape(&t.id),
            loc = escape(&location),
            ty = escape(&list(&t.types)),
            actors = escape(&actors),
            civ = escape(&civilians),
            base = escape(&base),
            p7 = escape(&pres(t.presence[0])),
            p30 = escape(&pres(t.presence[1])),
            visits = escape(&visits),
            bg = level_colour(t.level),
            li = t.likelihood,
            im = t.impact,
            risk = t.risk,
            level = l(&format!("level.{}", t.level.as_str())),
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn meta_text(p: &Product, name: &str) -> Option<String> {
    match p.meta(name)? {
        Field::Param(Param::Text(s)) | Field::Key(s) => Some(s.clone()),
        Field::Param(Param::Int(n)) => Some(n.to_string()),
        Field::Tally(n) => Some(n.to_string()),
        _ => None,
    }
}

fn how(h: &mut String, brief: &Brief, n: usize) {
    let lang = brief.request.lang;
    let l = |k: &str| escape(&label(lang, k));
    let _ = writeln!(
        h,
        "<section class=\"how\"><h2>{}</h2>\n<p>{}</p>\n<dl>",
        l("how"),
        l("how.text")
    );
    let mut row = |k: &str, v: String| {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", l(k), escape(&v));
    };
    if let Some(m) = &brief.threat_matrix {
        row(
            "p.window",
            format!(
                "{} — {}",
                date(lang, m.from),
                date(lang, brief.request.as_of)
            ),
        );
        row(
            "p.min_risk",
            label(lang, &format!("level.{}", m.min_risk.as_str())),
        );
    }
    row(
        "p.cell",
        format!("{} km", number(lang, brief.request.cell_km, 1)),
    );
    row(
        "p.near",
        format!("{} km", number(lang, brief.request.near_km, 1)),
    );
    row("p.threats", n.to_string());
    if let Some((_, surface)) = brief.parts.iter().find(|(n, _)| *n == "risk_surface") {
        if let Some(v) = meta_text(surface, "data_version") {
            row("p.data_version", v);
        }
        if let Some(Field::Param(Param::Object(gate))) = surface.meta("gate") {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_have_both_languages_and_unique_keys() {
        let mut keys: Vec<&str> = LABELS.iter().map(|l| l.0).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
        assert!(LABELS
            .iter()
            .all(|(_, en, fr)| !en.is_empty() && !fr.is_empty()));
    }
}
