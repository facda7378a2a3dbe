//! Every label of a brief's document in English and French, from one
//! table, and dates and numbers written the way each language writes them.

use crate::request::brief::Lang;
use chrono::{DateTime, Datelike, Utc};

/// `(key, English, French)`.
const LABELS: &[(&str, &str, &str)] = &[
    ("title.weekly-hotspot", "Weekly hotspot brief", "Note hebdomadaire sur les points chauds"),
    ("title.early-warning", "Early-warning brief", "Note d'alerte précoce"),
    ("mission", "Mission", "Mission"),
    ("as_of", "As of", "Situation au"),
    ("made_for", "Made for role", "Établi pour le rôle"),
    ("operator", "operator (full data)", "opérateur (données complètes)"),
    ("class.partner", "UN — shareable with partners: aggregated figures, small counts suppressed, no individual record", "ONU — partageable avec les partenaires : chiffres agrégés, petits effectifs masqués, aucun enregistrement individuel"),
    ("class.restricted", "UN RESTRICTED — for the named role only; do not forward", "ONU DIFFUSION RESTREINTE — réservé au rôle indiqué ; ne pas transférer"),
    ("map", "Map", "Carte"),
    ("map.none", "Nothing to draw as of this date.", "Rien à cartographier à cette date."),
    ("map.weekly-hotspot", "Numbers: the listed areas by rank (red intensifying, orange new, purple persistent); blue: patrol presence in the last 7 days; dashed red: blind spots.", "Numéros : les zones listées par rang (rouge en intensification, orange nouveau, violet persistant) ; bleu : présence des patrouilles sur les 7 derniers jours ; tirets rouges : angles morts."),
    ("map.early-warning", "Numbers: the listed areas by rank, coloured by priority (dark red top, red high, orange medium, yellow low); black triangles: cells with armed-group sightings in the last two steps; dashed red: blind spots.", "Numéros : les zones listées par rang, colorées selon la priorité (rouge foncé maximale, rouge haute, orange moyenne, jaune basse) ; triangles noirs : cellules avec des observations de groupes armés sur les deux derniers pas ; tirets rouges : angles morts."),
    ("section.weekly-hotspot", "Suggested patrol priorities", "Priorités de patrouille suggérées"),
    ("section.warning", "Early warnings (corroborated or verified incidents)", "Alertes précoces (incidents corroborés ou vérifiés)"),
    ("section.alert", "Alerts (unverified reports)", "Alertes (signalements non vérifiés)"),
    ("section.unsplit", "Alerts and early warnings together (this role cannot separate them: the gate keeps its groups whole)", "Alertes et alertes précoces ensemble (ce rôle ne peut les séparer : la passerelle garde ses groupes entiers)"),
    ("rule", "Ranking rule", "Règle de classement"),
    ("rule.weekly-hotspot", "score = tier x (1 - presence in the last 7 days), tier 3 intensifying, 2 new, 1 persistent; higher score first, then more incidents, then cell key.", "score = rang x (1 - présence sur les 7 derniers jours), rang 3 en intensification, 2 nouveau, 1 persistant ; score le plus élevé d'abord, puis le plus d'incidents, puis la clé de cellule."),
    ("rule.early-warning", "likelihood 1-3: 3 intensifying, 2 consecutive, 1 new, +1 with armed-group sightings near (at most 3); impact 1-3: 5x5 impact 1-2 gives 1, 3 gives 2, 4-5 gives 3, +1 in a blind spot (at most 3); priority by likelihood x impact: 9 top, 6 high, 3-4 medium, 1-2 low; higher priority first, then higher likelihood x impact, then more incidents, then cell key.", "probabilité 1-3 : 3 en intensification, 2 consécutif, 1 nouveau, +1 avec des observations de groupes armés proches (au plus 3) ; impact 1-3 : impact 5x5 de 1-2 donne 1, 3 donne 2, 4-5 donne 3, +1 dans un angle mort (au plus 3) ; priorité selon probabilité x impact : 9 maximale, 6 haute, 3-4 moyenne, 1-2 basse ; priorité la plus haute d'abord, puis probabilité x impact, puis le plus d'incidents, puis la clé de cellule."),
    ("more", "{n} more areas, ranked, are in the GeoJSON and CSV of this brief.", "{n} autres zones, classées, figurent dans le GeoJSON et le CSV de cette note."),
    ("none", "No area meets the criteria as of this date.", "Aucune zone ne remplit les critères à cette date."),
    ("col.rank", "Rank", "Rang"),
    ("col.cell", "Area (cell)", "Zone (cellule)"),
    ("col.pattern", "Pattern", "Tendance"),
    ("col.count", "Incidents", "Incidents"),
    ("col.hot_steps", "Hot steps", "Pas chauds"),
    ("col.presence", "Presence, last 7 days", "Présence, 7 derniers jours"),
    ("col.blind", "Blind spot", "Angle mort"),
    ("col.score", "Score", "Score"),
    ("col.previous", "Pattern two steps before", "Tendance deux pas avant"),
    ("col.sightings", "Sightings near", "Observations proches"),
    ("col.likelihood", "Likelihood", "Probabilité"),
    ("col.impact", "Impact", "Impact"),
    ("col.priority", "Priority", "Priorité"),
    ("suppressed", "suppressed", "masqué"),
    ("not_available", "not available to this role", "non disponible pour ce rôle"),
    ("how", "How this was computed", "Méthode de calcul"),
    ("how.weekly-hotspot", "Incidents are counted in a space-time cube of square equal-area cells and time steps ending at the as-of date. Each bin's Getis-Ord Gi* over its space-time neighbourhood (FDR-corrected) marks hot steps; each cell's Mann-Kendall trend of its z-scores and its share of hot steps give its emerging hot spot pattern (ESRI's rules). Intensifying, new and persistent hot spots are listed, set against patrol presence per cell over the last 7 days (track corridors and base reach), and ranked for patrol planning by the rule above.", "Les incidents sont comptés dans un cube espace-temps de cellules carrées à aire égale et de pas de temps finissant à la date de situation. Le Gi* de Getis-Ord de chaque case sur son voisinage espace-temps (corrigé FDR) marque les pas chauds ; la tendance de Mann-Kendall des scores z de chaque cellule et sa part de pas chauds donnent sa tendance de point chaud émergent (règles d'ESRI). Les points chauds en intensification, nouveaux et persistants sont listés, confrontés à la présence des patrouilles par cellule sur les 7 derniers jours (corridors des parcours et portée des bases), et classés pour la planification des patrouilles selon la règle ci-dessus."),
    ("how.early-warning", "Incidents are counted in a space-time cube of square equal-area cells and time steps ending at the as-of date; each bin's Getis-Ord Gi* (FDR-corrected) marks hot steps and each cell gets its emerging hot spot pattern (ESRI's rules). Areas whose pattern is new, consecutive or intensifying, and was another pattern two steps before, are listed. The same cube on corroborated and verified incidents alone separates early warnings from alerts; armed-group sightings of the last two steps within the stated distance raise the likelihood, a blind spot or a grave impact on the risk surface raises the impact, and the EWRR 3x3 grid gives the priority.", "Les incidents sont comptés dans un cube espace-temps de cellules carrées à aire égale et de pas de temps finissant à la date de situation ; le Gi* de Getis-Ord de chaque case (corrigé FDR) marque les pas chauds et chaque cellule reçoit sa tendance de point chaud émergent (règles d'ESRI). Les zones dont la tendance est nouvelle, consécutive ou en intensification, et était une autre deux pas plus tôt, sont listées. Le même cube sur les seuls incidents corroborés et vérifiés sépare les alertes précoces des alertes ; les observations de groupes armés des deux derniers pas à la distance indiquée élèvent la probabilité, un angle mort ou un impact grave sur la surface de risque élève l'impact, et la grille 3x3 EWRR donne la priorité."),
    ("p.cell", "Cell size", "Taille des cellules"),
    ("p.step", "Time step", "Pas de temps"),
    ("p.steps", "Steps", "Nombre de pas"),
    ("p.window", "Data window of the cube", "Fenêtre de données du cube"),
    ("p.events", "Incidents in the cube", "Incidents dans le cube"),
    ("p.cube_cells", "Cells with incidents", "Cellules avec incidents"),
    ("p.areas", "Areas listed", "Zones listées"),
    ("p.coverage", "Presence window", "Fenêtre de présence"),
    ("p.near", "Sightings near: within", "Observations proches : à moins de"),
    ("p.unavailable", "Parts not available to this role", "Éléments non disponibles pour ce rôle"),
    ("p.data_version", "Store data version", "Version des données"),
    ("p.policy", "Access policy (SHA-256)", "Politique d'accès (SHA-256)"),
    ("days", "days", "jours"),
    ("yes", "yes", "oui"),
    ("no", "no", "non"),
    ("pattern.intensifying-hot", "intensifying", "en intensification"),
    ("pattern.new-hot", "new", "nouveau"),
    ("pattern.persistent-hot", "persistent", "persistant"),
    ("pattern.consecutive-hot", "consecutive", "consécutif"),
    ("pattern.no-pattern", "none", "aucune"),
    ("priority.top", "Top", "Maximale"),
    ("priority.high", "High", "Haute"),
    ("priority.medium", "Medium", "Moyenne"),
    ("priority.low", "Low", "Basse"),
    ("status.warning", "early warning", "alerte précoce"),
    ("status.alert", "alert", "alerte"),
    ("status.unsplit", "alert or early warning", "alerte ou alerte précoce"),
    ("blind.threat", "threat", "menace"),
    ("blind.information", "information", "information"),
    // The handover pack (src/render/brief/handover.rs).
    ("title.handover", "Handover pack", "Dossier de passation"),
    ("title.threat-matrix", "Threat matrix — draft for analysts", "Matrice des menaces — projet pour les analystes"),
    ("ho.months", "months", "mois"),
    ("ho.period", "Period", "Période"),
    ("ho.aor", "Area of responsibility", "Zone de responsabilité"),
    ("ho.aor.all", "all data (no --bbox given)", "toutes les données (aucune --bbox)"),
    ("ho.know", "What to know", "À retenir"),
    ("ho.know.none", "Nothing meets the rules of this list over the period.", "Rien ne remplit les règles de cette liste sur la période."),
    ("ho.know.persistent-uncovered", "Persistent hot spot {s} without regular presence now ({n} incidents).", "Point chaud persistant {s} sans présence régulière aujourd'hui ({n} incidents)."),
    ("ho.know.emerged-blind", "Hot spot {s} emerged inside a blind spot ({n} incidents).", "Le point chaud {s} est apparu dans un angle mort ({n} incidents)."),
    ("ho.know.sightings-rising", "Armed-group sightings rose in {s} (+{n} in the second half).", "Les observations de groupes armés ont augmenté en {s} (+{n} sur la seconde moitié)."),
    ("ho.know.new-blind-spot", "New blind spot {s}.", "Nouvel angle mort {s}."),
    ("ho.maps", "Then and now", "Avant et maintenant"),
    ("ho.map.then", "At the start of the period, {d}", "Au début de la période, {d}"),
    ("ho.map.now", "As of {d}", "Au {d}"),
    ("map.handover", "Numbers: the hot spots of the table (red persisted, orange emerged, light blue faded); blue: patrol presence over the 30 days before each date; dashed red: blind spots at each date; black triangles: cells with armed-group sightings in the second half of the period.", "Numéros : les points chauds du tableau (rouge persistant, orange apparu, bleu clair disparu) ; bleu : présence des patrouilles sur les 30 jours précédant chaque date ; tirets rouges : angles morts à chaque date ; triangles noirs : cellules avec des observations de groupes armés sur la seconde moitié de la période."),
    ("ho.hot", "Hot spots then and now", "Points chauds avant et maintenant"),
    ("ho.hot.summary", "{e} emerged, {p} persisted, {f} faded.", "{e} apparus, {p} persistants, {f} disparus."),
    ("ho.col.change", "Change", "Évolution"),
    ("ho.col.then", "Pattern then", "Tendance avant"),
    ("ho.col.now", "Pattern now", "Tendance maintenant"),
    ("ho.col.presence_now", "Presence now", "Présence maintenant"),
    ("ho.change.emerged", "emerged", "apparu"),
    ("ho.change.persisted", "persisted", "persistant"),
    ("ho.change.faded", "faded", "disparu"),
    ("ho.more", "{n} more rows are in the GeoJSON and CSV of this pack.", "{n} autres lignes figurent dans le GeoJSON et le CSV de ce dossier."),
    ("ho.monthly", "Incidents per month", "Incidents par mois"),
    ("ho.monthly.none", "No incident counts available for this period.", "Aucun décompte d'incidents disponible pour cette période."),
    ("ho.monthly.note", "Columns: steps of {d} days ending at the as-of date, by their first day. Counts are sums over the cells this role receives (cells under the minimum count are left out).", "Colonnes : pas de {d} jours finissant à la date de situation, par leur premier jour. Les décomptes sont des sommes sur les cellules que ce rôle reçoit (les cellules sous l'effectif minimal sont omises)."),
    ("ho.monthly.unsplit", "This role cannot split incidents by category (the gate keeps its groups whole): totals only.", "Ce rôle ne peut pas ventiler les incidents par catégorie (la passerelle garde ses groupes entiers) : totaux seulement."),
    ("ho.col.category", "Category", "Catégorie"),
    ("ho.col.total", "Total", "Total"),
    ("ho.cat.all", "All incidents", "Tous les incidents"),
    ("ho.cat.killing", "killing", "meurtre"),
    ("ho.cat.injury", "injury", "blessure"),
    ("ho.cat.abduction", "abduction", "enlèvement"),
    ("ho.cat.sexual-violence", "sexual violence", "violences sexuelles"),
    ("ho.cat.attack-on-civilian-site", "attack on a civilian site", "attaque contre un site civil"),
    ("ho.cat.looting-burning", "looting, burning", "pillage, incendie"),
    ("ho.cat.forced-displacement", "forced displacement", "déplacement forcé"),
    ("ho.cat.child-recruitment", "child recruitment", "recrutement d'enfants"),
    ("ho.cat.arbitrary-detention", "arbitrary detention", "détention arbitraire"),
    ("ho.cat.threat-intimidation", "threat, intimidation", "menace, intimidation"),
    ("ho.cat.explosive-ordnance", "explosive ordnance", "engins explosifs"),
    ("ho.cat.other", "other", "autre"),
    ("ho.sightings", "Armed-group presence: first half against second half", "Présence des groupes armés : première moitié contre seconde moitié"),
    ("ho.sightings.summary", "Halves of {d} days. Cells: {a} appeared, {u} up, {s} unchanged, {w} down, {g} gone.", "Moitiés de {d} jours. Cellules : {a} apparues, {u} en hausse, {s} inchangées, {w} en baisse, {g} disparues."),
    ("ho.col.first", "First half", "Première moitié"),
    ("ho.col.second", "Second half", "Seconde moitié"),
    ("ho.sight.appeared", "appeared", "apparu"),
    ("ho.sight.up", "up", "en hausse"),
    ("ho.sight.same", "unchanged", "inchangé"),
    ("ho.sight.down", "down", "en baisse"),
    ("ho.sight.gone", "gone", "disparu"),
    ("ho.sight.suppressed", "suppressed", "masqué"),
    ("ho.coverage", "Patrol coverage then and now", "Couverture des patrouilles avant et maintenant"),
    ("ho.coverage.summary", "Cells covered (presence at least {c}): {g} gained, {l} lost, {k} kept.", "Cellules couvertes (présence d'au moins {c}) : {g} gagnées, {l} perdues, {k} conservées."),
    ("ho.blind", "Blind spots then and now", "Angles morts avant et maintenant"),
    ("ho.blind.none", "No blind spot at either date.", "Aucun angle mort à l'une ou l'autre date."),
    ("ho.blind.new", "new", "nouveau"),
    ("ho.blind.persisting", "persisting", "persistant"),
    ("ho.blind.closed", "closed", "fermé"),
    ("ho.col.kind", "Kind", "Type"),
    ("ho.col.sites", "Civilian sites in reach", "Sites civils à portée"),
    ("ho.col.people", "People at them", "Personnes"),
    ("ho.bases", "Bases", "Bases"),
    ("ho.bases.none", "No base reaches the area at either date.", "Aucune base n'atteint la zone à l'une ou l'autre date."),
    ("ho.base.opened", "opened", "ouverte"),
    ("ho.base.kept", "kept", "maintenue"),
    ("ho.base.closed", "closed", "fermée"),
    ("ho.rules", "Rules", "Règles"),
    ("rule.handover", "a hot spot is a cell with any hot emerging pattern but historical; emerged: hot now, not at the period's start; persisted: hot at both; faded: hot at the start, not now (cells matched by overlap). Covered: presence at least 0.5 over the 30 days before each date. A blind spot is new when it overlaps no blind spot of its kind at the start, closed when it overlaps none now. Sightings: the period's first half against its second. What to know: up to 5 persisted hot spots with presence now under 0.5 (most incidents first), up to 3 emerged hot spots inside a blind spot, up to 3 cells where sightings rose most, up to 3 new blind spots by rank.", "un point chaud est une cellule de tendance chaude émergente autre qu'historique ; apparu : chaud maintenant, pas au début de la période ; persistant : chaud aux deux dates ; disparu : chaud au début, plus maintenant (cellules appariées par recouvrement). Couvert : présence d'au moins 0,5 sur les 30 jours précédant chaque date. Un angle mort est nouveau s'il ne recouvre aucun angle mort de son type au début, fermé s'il n'en recouvre aucun maintenant. Observations : première moitié de la période contre seconde. À retenir : jusqu'à 5 points chauds persistants avec une présence actuelle inférieure à 0,5 (le plus d'incidents d'abord), jusqu'à 3 points chauds apparus dans un angle mort, jusqu'à 3 cellules où les observations ont le plus augmenté, jusqu'à 3 nouveaux angles morts par rang."),
    ("how.handover", "The same analyses are run twice, as of the period's start and as of the as-of date, each through the access gate for the role: the incident trend cube (square equal-area cells, Getis-Ord Gi* per bin, FDR-corrected, emerging hot spot patterns by ESRI's rules), presence per cell over the 30 days before each date (patrol corridors and base reach), and blind spots over the 90 days before each date. They are compared cell by cell by overlap. Incidents per month come from a cube of 30-day steps over the period (one per category where the role may split them); armed-group sightings from a cube of two steps, the period's halves. Bases are those the presence parts name as the nearest base of a cell; civilian sites are counted within reach of each blind spot.", "Les mêmes analyses sont faites deux fois, au début de la période et à la date de situation, chacune à travers la passerelle d'accès pour le rôle : le cube de tendance des incidents (cellules carrées à aire égale, Gi* de Getis-Ord par case, corrigé FDR, tendances de points chauds émergents selon les règles d'ESRI), la présence par cellule sur les 30 jours précédant chaque date (corridors des patrouilles et portée des bases), et les angles morts sur les 90 jours précédant chaque date. Elles sont comparées cellule par cellule par recouvrement. Les incidents par mois viennent d'un cube de pas de 30 jours sur la période (un par catégorie si le rôle peut les ventiler) ; les observations de groupes armés d'un cube de deux pas, les moitiés de la période. Les bases sont celles que les parts de présence nomment comme base la plus proche d'une cellule ; les sites civils sont comptés à portée de chaque angle mort."),
    ("ho.p.period", "Period", "Période"),
    ("ho.pattern.new-hot", "new", "nouveau"),
    ("ho.pattern.consecutive-hot", "consecutive", "consécutif"),
    ("ho.pattern.intensifying-hot", "intensifying", "en intensification"),
    ("ho.pattern.persistent-hot", "persistent", "persistant"),
    ("ho.pattern.diminishing-hot", "diminishing", "en diminution"),
    ("ho.pattern.sporadic-hot", "sporadic", "sporadique"),
    ("ho.pattern.oscillating-hot", "oscillating", "oscillant"),
    ("ho.pattern.historical-hot", "historical", "historique"),
    ("ho.p.trends_now", "Trend cube now", "Cube de tendance maintenant"),
    ("ho.p.trends_then", "Trend cube at the start", "Cube de tendance au début"),
    ("ho.p.presence", "Presence window, covered at", "Fenêtre de présence, couvert à partir de"),
];

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// The label `key` in `lang`; a key without a label is written as it is
/// (a pattern name the table does not translate, for instance).
pub fn t(lang: Lang, key: &str) -> String {
    let mut all = LABELS.iter().chain(super::outlook::LABELS);
    all.find(|(k, _, _)| *k == key).map_or_else(
        || key.rsplit('.').next().unwrap_or(key).to_string(),
        |(_, en, fr)| match lang {
            Lang::En => (*en).to_string(),
            Lang::Fr => (*fr).to_string(),
        },
    )
}

/// A date as the language writes it: `2 December 2026`, `2 décembre 2026`.
pub fn date(lang: Lang, d: DateTime<Utc>) -> String {
    let m = d.month0() as usize;
    match lang {
        Lang::En => format!("{} {} {}", d.day(), MONTHS_EN[m], d.year()),
        Lang::Fr => {
            let day = if d.day() == 1 {
                "1er".to_string()
            } else {
                d.day().to_string()
            };
            format!("{day} {} {}", MONTHS_FR[m], d.year())
        }
    }
}

/// A number with `decimals` decimals, with the language's decimal mark.
pub fn number(lang: Lang, x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    match lang {
        Lang::En => s,
        Lang::Fr => s.replace('.', ","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_differs_or_is_the_same_word_and_keys_are_unique() {
        let mut keys: Vec<&str> = LABELS.iter().map(|l| l.0).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key is repeated");
        for (k, en, fr) in LABELS {
            assert!(!en.is_empty() && !fr.is_empty(), "{k}");
        }
    }

    #[test]
    fn dates_and_numbers_per_language() {
        let d = DateTime::parse_from_rfc3339("2026-08-01T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(date(Lang::En, d), "1 August 2026");
        assert_eq!(date(Lang::Fr, d), "1er août 2026");
        assert_eq!(number(Lang::En, 0.126, 2), "0.13");
        assert_eq!(number(Lang::Fr, 1.5, 1), "1,5");
        assert_eq!(t(Lang::Fr, "col.rank"), "Rang");
        assert_eq!(t(Lang::En, "pattern.made-up-hot"), "made-up-hot");
    }
}
