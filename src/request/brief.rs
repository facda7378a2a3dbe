//! The mission's briefs (`jointmap brief`, `/products/briefs/{kind}`): the
//! weekly hotspot brief and the bi-weekly early-warning brief, composed
//! from analysis products that each went through the access gate.
//!
//! A brief never reads the store itself: it asks a [`Runner`] for each of
//! its parts (trends, presence, blind spots, sightings), as ordinary
//! analysis requests, and the caller runs them through
//! `access::Gate::plan` and `Gate::run` for the role the brief is made for.
//! So a role's brief holds only what that role would receive from the
//! analyses one by one (k-protected aggregates for partners), and the
//! rules that rank its areas are applied here, on gated products only
//! (docs/briefs.md).

use super::blindspots::BlindspotRequest;
use super::coverage::CoverageRequest;
use super::trends::TrendRequest;
use super::{parse_bbox, parse_to_arg};
use crate::analysis::product::{Field, Fields, Item, Param, Product, Shape};
use crate::analysis::AnalysisError;
use crate::model::Layer;
pub use cells::PartCell;
use cells::{cells, matching, number, param_num, polygon, prop, text, weighted};
use chrono::{DateTime, Duration, Utc};
use geo::{Contains, Distance, Haversine};
pub use handover::Months;
pub use threat_matrix::{list as threat_matrix_list, site_list as threat_matrix_sites};
pub use threat_matrix::{LayerRequest, MatrixThreat, ThreatMatrix};

/// The briefs that can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum BriefKind {
    /// New, intensifying and persistent hot spots against last week's
    /// patrol coverage, with suggested patrol priorities.
    WeeklyHotspot,
    /// Areas that became new, consecutive or intensifying hot spots in the
    /// last two steps, ranked on the 3x3 priority grid.
    EarlyWarning,
    /// The last quarter's trends and casualties by sex and age against the
    /// quarter before, and the trigger calendar of the next three months.
    QuarterlyOutlook,
    /// What changed in an area of responsibility over the last 6 or 12
    /// months, for an incoming contingent (`brief/handover.rs`).
    Handover,
    /// The threats on the risk surface on the handbook's 5x5 grid, pre-filled
    /// for analysts to edit (threat_matrix.rs).
    ThreatMatrix,
}

impl BriefKind {
    /// Every kind.
    pub const ALL: [BriefKind; 5] = [
        BriefKind::WeeklyHotspot,
        BriefKind::EarlyWarning,
        BriefKind::QuarterlyOutlook,
        BriefKind::Handover,
        BriefKind::ThreatMatrix,
    ];

    /// Its name (the command's argument and the endpoint's path segment).
    pub fn as_str(self) -> &'static str {
        match self {
            BriefKind::WeeklyHotspot => "weekly-hotspot",
            BriefKind::EarlyWarning => "early-warning",
            BriefKind::QuarterlyOutlook => "quarterly-outlook",
            BriefKind::Handover => "handover",
            BriefKind::ThreatMatrix => "threat-matrix",
        }
    }

    /// The default length of a trend step, days.
    pub fn step_days(self) -> u32 {
        match self {
            BriefKind::WeeklyHotspot => 7,
            BriefKind::EarlyWarning
            | BriefKind::QuarterlyOutlook
            | BriefKind::Handover
            | BriefKind::ThreatMatrix => 14,
        }
    }

    /// The emerging hot spot patterns the brief lists.
    fn patterns(self) -> &'static [&'static str] {
        match self {
            BriefKind::WeeklyHotspot => &["intensifying-hot", "new-hot", "persistent-hot"],
            BriefKind::EarlyWarning => &["new-hot", "consecutive-hot", "intensifying-hot"],
            BriefKind::QuarterlyOutlook => &outlook::LISTED,
            BriefKind::Handover => &[],
            BriefKind::ThreatMatrix => &[],
        }
    }
}

impl std::str::FromStr for BriefKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        BriefKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = BriefKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown brief {s:?}; briefs: {}", names.join(", "))
            })
    }
}

/// The language of a brief's document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Lang {
    /// English.
    En,
    /// French.
    Fr,
}

impl Lang {
    /// Its ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }
}

/// The parameters of a brief (its kind is the command's argument or the
/// endpoint's path).
#[derive(Debug, Clone, clap::Args)]
pub struct BriefRequest {
    /// The as-of time: no data after it is read (RFC 3339, or a date:
    /// through the end of that day).
    #[arg(long, value_parser = parse_to_arg)]
    pub as_of: DateTime<Utc>,
    /// Language of the document: en or fr.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
    /// Square cell size in km of every analysis in the brief.
    #[arg(long, default_value_t = 10.0)]
    pub cell_km: f64,
    /// Length of a trend step in days (default: 7 for the weekly brief, 14
    /// for the early-warning brief).
    #[arg(long)]
    pub step_days: Option<u32>,
    /// Steps in the trend cube, ending at the as-of time.
    #[arg(long, default_value_t = 12)]
    pub steps: usize,
    /// Armed-group sightings count as near an area within this many km of
    /// its centre (early-warning brief).
    #[arg(long, default_value_t = 15.0)]
    pub near_km: f64,
    /// Only data within min_lon,min_lat,max_lon,max_lat.
    #[arg(long, value_parser = parse_bbox, allow_hyphen_values = true)]
    pub bbox: Option<[f64; 4]>,
    /// The mission's name, for the title block.
    #[arg(long, default_value = "")]
    pub mission: String,
    /// The trigger calendar (quarterly outlook): set by the command's
    /// `--calendar` or the server's configuration, never by a request.
    #[arg(skip)]
    pub calendar: Option<std::sync::Arc<calendar::Calendar>>,
    /// The period the handover pack looks back over, months: 6 or 12.
    #[arg(long, value_enum, default_value_t = Months::Six)]
    pub months: Months,
    /// Threat matrix: days of data up to the as-of time behind the risk surface.
    #[arg(long, default_value_t = 90)]
    pub window_days: u32,
    /// Threat matrix: lowest risk level of a threat's cells: low, medium, high, extreme.
    #[arg(long, default_value = "high")]
    pub min_risk: crate::analysis::threat::RiskLevel,
}

/// One analysis a brief is made of, as an ordinary request.
#[derive(Debug, Clone)]
pub enum Part {
    /// Trends and emerging hot spots (incidents or sightings).
    Trends(Box<TrendRequest>),
    /// Presence per cell.
    Coverage(Box<CoverageRequest>),
    /// Blind spots and the risk surface.
    Blindspots(Box<BlindspotRequest>),
    /// Individual bases, sites or sightings as the role's feature view shows them.
    Layer(Box<LayerRequest>),
}

/// Runs the parts of a brief: through the access gate for a role, or as
/// the operator. The only way a brief reaches data.
pub trait Runner {
    /// The product of `part`, as the brief's role receives it.
    fn run(&mut self, part: Part) -> crate::Result<Product>;
}

impl<F: FnMut(Part) -> crate::Result<Product>> Runner for F {
    fn run(&mut self, part: Part) -> crate::Result<Product> {
        self(part)
    }
}

/// What an early-warning area's reports are established as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The pattern holds on corroborated or verified incidents alone.
    Warning,
    /// The pattern needs unverified reports (alerts).
    Alert,
    /// The role may not split incidents by verification (the gate keeps
    /// its groups whole): alerts and warnings together.
    Unsplit,
}

impl Status {
    /// Its name in the GeoJSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Warning => "warning",
            Status::Alert => "alert",
            Status::Unsplit => "unsplit",
        }
    }
}

/// The EWRR 3x3 priority of an early-warning area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// likelihood x impact 1-2.
    Low,
    /// 3-4.
    Medium,
    /// 6.
    High,
    /// 9.
    Top,
}

impl Priority {
    /// The priority of likelihood `l` and impact `i`, each 1..=3.
    pub fn grid(l: u8, i: u8) -> Priority {
        match l.clamp(1, 3) * i.clamp(1, 3) {
            9 => Priority::Top,
            6 => Priority::High,
            3 | 4 => Priority::Medium,
            _ => Priority::Low,
        }
    }

    /// Its name in the GeoJSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Top => "top",
        }
    }
}

/// One area of a brief: a trend cell with its pattern and what the other
/// gated parts say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// Its cell key.
    pub cell: String,
    /// Its closed lon/lat ring.
    pub ring: Vec<[f64; 2]>,
    /// Its centre (mean of the ring's corners).
    pub centre: [f64; 2],
    /// Its emerging hot spot pattern as of the as-of time.
    pub pattern: String,
    /// Its pattern two steps before (early-warning brief).
    pub previous: Option<String>,
    /// The gated count of incidents in the cube (null when suppressed).
    pub count: Field,
    /// Hot steps of the cube.
    pub hot_steps: u64,
    /// Presence in the last 7 days (0 where no presence was written).
    pub presence: f64,
    /// The blind spot its centre lies in: kind and rank.
    pub blind_spot: Option<(String, u64)>,
    /// The 5x5 impact of its cell on the risk surface (1 where none).
    pub impact5: u64,
    /// Armed-group sightings (gated counts) within `near_km` in the
    /// last two steps; `None` when not computed or not available.
    pub sightings: Option<u64>,
    /// Early warning: established or not.
    pub status: Option<Status>,
    /// Early warning: likelihood 1..3.
    pub likelihood: u8,
    /// Early warning: impact 1..3.
    pub impact: u8,
    /// Early warning: priority.
    pub priority: Option<Priority>,
    /// Weekly: the patrol priority score.
    pub score: f64,
    /// 1-based rank.
    pub rank: usize,
}

/// A gated blind spot.
#[derive(Debug, Clone, PartialEq)]
pub struct BlindSpot {
    /// The exterior rings of its cells' union.
    pub rings: Vec<Vec<[f64; 2]>>,
    /// Threat or information.
    pub kind: String,
    /// Its priority rank among blind spots of its kind.
    pub rank: u64,
}

/// A brief: its areas ranked, the context drawn on its map, and the
/// provenance of every part.
#[derive(Debug, Clone)]
pub struct Brief {
    /// Which brief.
    pub kind: BriefKind,
    /// The request.
    pub request: BriefRequest,
    /// The role it was made for (`None`: the operator, full data).
    pub role: Option<String>,
    /// The areas, in rank order.
    pub areas: Vec<Area>,
    /// Cells with presence in the last 7 days (weekly brief).
    pub presence: Vec<PartCell>,
    /// Blind spot polygons.
    pub blind_spots: Vec<BlindSpot>,
    /// Cells with sightings in the last two steps (early-warning brief).
    pub sightings: Vec<PartCell>,
    /// Each part's gated product, by name, for the method box and the
    /// provenance.
    pub parts: Vec<(&'static str, Product)>,
    /// Parts the role could not have, with the gate's reason.
    pub unavailable: Vec<(&'static str, String)>,
    /// The quarterly outlook's figures and triggers.
    pub outlook: Option<outlook::Outlook>,
    /// The handover pack's content (`None` for the other kinds).
    pub handover: Option<Box<handover::Handover>>,
    /// The threat-matrix draft's threats (that brief only).
    pub threat_matrix: Option<ThreatMatrix>,
}

/// Parses a part's arguments with its own clap definitions, so a part has
/// the same defaults as the command of the same name.
fn parse<R: clap::Args + clap::FromArgMatches>(argv: &[String]) -> crate::Result<R> {
    let cmd = R::augment_args(clap::Command::new("brief").no_binary_name(true));
    let bad = |e: clap::Error| AnalysisError::param("brief", e.to_string());
    let m = cmd.try_get_matches_from(argv).map_err(bad)?;
    Ok(R::from_arg_matches(&m).map_err(bad)?)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Whether `e` is a refusal of the request (by the gate or a parameter),
/// not a failure.
fn refused(e: &crate::Error) -> Option<String> {
    match e {
        crate::Error::Analysis(AnalysisError::InvalidParameter { .. })
        | crate::Error::Access(_) => Some(e.to_string()),
        _ => None,
    }
}

/// No matching event is an empty product, not a refusal (e.g. no
/// corroborated incident, no sighting in the window).
fn none_match(r: crate::Result<Product>) -> crate::Result<Product> {
    match r {
        Err(crate::Error::Analysis(AnalysisError::InvalidParameter {
            name: "filters", ..
        })) => Ok(Product::new("trends")),
        r => r,
    }
}

impl Brief {
    /// Makes a brief of `kind`: asks `runner` for each part and composes
    /// the gated products. `role` is the role the runner runs for (`None`
    /// for the operator).
    pub fn assemble(
        kind: BriefKind,
        req: &BriefRequest,
        role: Option<String>,
        runner: &mut dyn Runner,
    ) -> crate::Result<Brief> {
        super::positive_km("cell-km", Some(req.cell_km))?;
        super::positive_km("near-km", Some(req.near_km))?;
        if req.steps < 2 {
            return Err(AnalysisError::param("steps", "at least 2").into());
        }
        if kind == BriefKind::Handover {
            return handover::assemble(req, role, runner);
        }
        if kind == BriefKind::ThreatMatrix {
            return threat_matrix::assemble(req, role, runner);
        }
        let step_days = req.step_days.unwrap_or(kind.step_days());
        let cell = req.cell_km.to_string();
        let mut common = vec!["--cell-km".to_string(), cell];
        if let Some(b) = req.bbox {
            common.push(format!("--bbox={},{},{},{}", b[0], b[1], b[2], b[3]));
        }
        let trend_args = |as_of: DateTime<Utc>, steps: usize, extra: &[&str]| -> Vec<String> {
            let mut v = common.clone();
            v.extend(
                [
                    "--step-days".to_string(),
                    step_days.to_string(),
                    "--steps".into(),
                    steps.to_string(),
                    "--as-of".into(),
                    rfc3339(as_of),
                ]
                .into_iter()
                .chain(extra.iter().map(|s| s.to_string())),
            );
            v
        };
        let mut brief = Brief {
            kind,
            request: req.clone(),
            role,
            areas: Vec::new(),
            presence: Vec::new(),
            blind_spots: Vec::new(),
            sightings: Vec::new(),
            parts: Vec::new(),
            unavailable: Vec::new(),
            outlook: None,
            handover: None,
            threat_matrix: None,
        };
        // An empty store (or window) is a brief with nothing to report.
        let trends = none_match(runner.run(Part::Trends(Box::new(parse(&trend_args(
            req.as_of,
            req.steps,
            &[],
        ))?))))?;
        // The step as the gate applied it (whole protection steps for a
        // role without full view).
        let applied_days = param_num(&trends, "step_days").unwrap_or(f64::from(step_days));
        let mut blind_args = common.clone();
        blind_args.extend(["--to".into(), rfc3339(req.as_of), "--cells".into()]);
        let blind = runner.run(Part::Blindspots(Box::new(parse(&blind_args)?)));
        let blind = brief.optional("blindspots", blind)?;
        let blind_cells = blind
            .as_ref()
            .map(|b| cells(b, "impact"))
            .unwrap_or_default();
        if let Some(b) = &blind {
            for it in &b.items {
                if let (Shape::Cells(mp), Some(kind)) = (&it.geometry, text(it, "kind")) {
                    let rings =
                        mp.0.iter()
                            .map(|p| p.exterior().0.iter().map(|c| [c.x, c.y]).collect())
                            .collect();
                    let rank = number(it, "rank").unwrap_or(0.0) as u64;
                    brief.blind_spots.push(BlindSpot { rings, kind, rank });
                }
            }
        }
        let mut areas: Vec<Area> = cells(&trends, "hot_steps")
            .into_iter()
            .filter_map(|(c, it)| {
                let pattern = text(it, "pattern")?;
                kind.patterns().contains(&pattern.as_str()).then(|| Area {
                    cell: text(it, "cell").unwrap_or_default(),
                    centre: c.centre,
                    ring: c.ring,
                    pattern,
                    previous: None,
                    count: prop(it, "count").cloned().unwrap_or(Field::Null),
                    hot_steps: c.value as u64,
                    presence: 0.0,
                    blind_spot: None,
                    impact5: 1,
                    sightings: None,
                    status: None,
                    likelihood: 0,
                    impact: 0,
                    priority: None,
                    score: 0.0,
                    rank: 0,
                })
            })
            .collect();
        for a in &mut areas {
            let pt = geo_types::Point::new(a.centre[0], a.centre[1]);
            a.blind_spot = brief
                .blind_spots
                .iter()
                .find(|b| b.rings.iter().any(|r| polygon(r).contains(&pt)))
                .map(|b| (b.kind.clone(), b.rank));
            a.impact5 = matching(&blind_cells, &a.ring).map_or(1, |(c, _)| c.value.max(1.0) as u64);
        }
        brief.parts.push(("trends", trends));
        if let Some(b) = blind {
            brief.parts.push(("blindspots", b));
        }
        match kind {
            BriefKind::WeeklyHotspot => brief.weekly(req, &common, runner, &mut areas)?,
            BriefKind::QuarterlyOutlook => {
                outlook::build(&mut brief, req, &common, runner, &mut areas)?
            }
            BriefKind::Handover => {}
            BriefKind::ThreatMatrix => {}
            BriefKind::EarlyWarning => {
                let prev_as_of =
                    req.as_of - Duration::seconds((2.0 * applied_days * 86_400.0) as i64);
                let previous = none_match(runner.run(Part::Trends(Box::new(parse(
                    &trend_args(prev_as_of, req.steps, &[]),
                )?))))?;
                let prev_cells = cells(&previous, "hot_steps");
                // Became: the pattern two steps ago was another one.
                areas.retain_mut(|a| {
                    a.previous = Some(
                        matching(&prev_cells, &a.ring)
                            .and_then(|(_, it)| text(it, "pattern"))
                            .unwrap_or_else(|| "no-pattern".into()),
                    );
                    a.previous.as_deref() != Some(a.pattern.as_str())
                });
                brief.parts.push(("trends_previous", previous));
                let verified = runner.run(Part::Trends(Box::new(parse(&trend_args(
                    req.as_of,
                    req.steps,
                    &["--min-verification", "corroborated"],
                ))?)));
                let verified = brief.optional("trends_verified", none_match(verified))?;
                // The last two steps of sightings, every cell.
                let sight_args = trend_args(req.as_of, 2, &["--layer", "sightings", "--all-cells"]);
                let sightings = runner.run(Part::Trends(Box::new(parse(&sight_args)?)));
                let sightings = brief.optional("sightings", none_match(sightings))?;
                brief.early_warning(req, &mut areas, verified.as_ref(), sightings.as_ref());
                if let Some(v) = verified {
                    brief.parts.push(("trends_verified", v));
                }
                if let Some(s) = sightings {
                    brief.parts.push(("sightings", s));
                }
            }
        }
        for (i, a) in areas.iter_mut().enumerate() {
            a.rank = i + 1;
        }
        brief.areas = areas;
        Ok(brief)
    }

    /// A part the brief can do without: its product, or `None` with the
    /// reason noted when the role may not have it.
    fn optional(
        &mut self,
        name: &'static str,
        r: crate::Result<Product>,
    ) -> crate::Result<Option<Product>> {
        match r {
            Ok(p) => Ok(Some(p)),
            Err(e) => match refused(&e) {
                Some(reason) => {
                    self.unavailable.push((name, reason));
                    Ok(None)
                }
                None => Err(e),
            },
        }
    }

    /// The weekly brief: presence in the last 7 days per area, and the
    /// patrol priority `tier x (1 - presence)`.
    fn weekly(
        &mut self,
        req: &BriefRequest,
        common: &[String],
        runner: &mut dyn Runner,
        areas: &mut [Area],
    ) -> crate::Result<()> {
        let mut args = common.to_vec();
        args.extend([
            "--from".into(),
            rfc3339(req.as_of - Duration::days(7)),
            "--to".into(),
            rfc3339(req.as_of),
        ]);
        let coverage = runner.run(Part::Coverage(Box::new(parse(&args)?)));
        if let Some(cov) = self.optional("coverage", coverage)? {
            let cov_cells = cells(&cov, "presence");
            for a in areas.iter_mut() {
                a.presence = weighted(&cov_cells, &a.ring);
            }
            self.presence = cov_cells
                .into_iter()
                .filter(|(c, _)| c.value > 0.0)
                .map(|(c, _)| c)
                .collect();
            self.parts.push(("coverage", cov));
        }
        for a in areas.iter_mut() {
            a.score = weekly_tier(&a.pattern) * (1.0 - a.presence.clamp(0.0, 1.0));
        }
        areas.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| count_of(&b.count).cmp(&count_of(&a.count)))
                .then_with(|| a.cell.cmp(&b.cell))
        });
        Ok(())
    }

    /// The early-warning brief: sightings near each area, alert or
    /// warning, likelihood, impact and the 3x3 priority.
    fn early_warning(
        &mut self,
        req: &BriefRequest,
        areas: &mut [Area],
        verified: Option<&Product>,
        sightings: Option<&Product>,
    ) {
        let sight_cells = sightings.map(|s| cells(s, "count")).unwrap_or_default();
        let verified_cells = verified.map(|v| cells(v, "hot_steps"));
        for a in areas.iter_mut() {
            let here = geo_types::Point::new(a.centre[0], a.centre[1]);
            a.sightings = sightings.map(|_| {
                sight_cells
                    .iter()
                    .filter(|(c, _)| {
                        Haversine.distance(here, geo_types::Point::new(c.centre[0], c.centre[1]))
                            <= req.near_km * 1000.0
                    })
                    .map(|(c, _)| c.value as u64)
                    .sum()
            });
            a.status = Some(match &verified_cells {
                None => Status::Unsplit,
                Some(v) => {
                    let holds = matching(v, &a.ring)
                        .and_then(|(_, it)| text(it, "pattern"))
                        .is_some_and(|p| BriefKind::EarlyWarning.patterns().contains(&p.as_str()));
                    if holds {
                        Status::Warning
                    } else {
                        Status::Alert
                    }
                }
            });
            let base_l = match a.pattern.as_str() {
                "intensifying-hot" => 3,
                "consecutive-hot" => 2,
                _ => 1,
            };
            a.likelihood = (base_l + u8::from(a.sightings.unwrap_or(0) > 0)).min(3);
            let base_i = match a.impact5 {
                0..=2 => 1,
                3 => 2,
                _ => 3,
            };
            a.impact = (base_i + u8::from(a.blind_spot.is_some())).min(3);
            a.priority = Some(Priority::grid(a.likelihood, a.impact));
        }
        self.sightings = sight_cells
            .into_iter()
            .filter(|(c, _)| c.value > 0.0)
            .map(|(c, _)| c)
            .collect();
        areas.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| (b.likelihood * b.impact).cmp(&(a.likelihood * a.impact)))
                .then_with(|| count_of(&b.count).cmp(&count_of(&a.count)))
                .then_with(|| a.cell.cmp(&b.cell))
        });
    }

    /// The brief as a product: one item per area, in rank order, with the
    /// brief's parameters in its metadata. Every value is one of a gated
    /// part or computed from them.
    pub fn to_product(&self) -> Product {
        if let Some(h) = &self.handover {
            return h.to_product(self);
        }
        if let Some(m) = &self.threat_matrix {
            return m.to_product(self);
        }
        let mut p = Product::new("brief");
        p.meta.extend([
            ("kind", Field::param(self.kind.as_str())),
            ("as_of", Field::param(rfc3339(self.request.as_of))),
            ("lang", Field::param(self.request.lang.code())),
            ("role", Field::Param(self.role.clone().into())),
            ("mission", Field::param(self.request.mission.as_str())),
            ("cell_km", Field::param(self.request.cell_km)),
            ("rule", Field::param(self.rule())),
            ("areas", Field::Tally(self.areas.len() as u64)),
            (
                "unavailable",
                Field::Param(Param::List(
                    self.unavailable
                        .iter()
                        .map(|(n, r)| {
                            Param::Object(vec![("part", (*n).into()), ("reason", r.clone().into())])
                        })
                        .collect(),
                )),
            ),
        ]);
        p.meta
            .extend(self.outlook.iter().flat_map(outlook::Outlook::meta));
        for a in &self.areas {
            let mut f: Fields = vec![
                ("rank", Field::Tally(a.rank as u64)),
                ("cell", Field::Key(a.cell.clone())),
                ("pattern", Field::Class(a.pattern.clone())),
                ("count", a.count.clone()),
                ("hot_steps", Field::Tally(a.hot_steps)),
                (
                    "blind_spot",
                    a.blind_spot
                        .as_ref()
                        .map_or(Field::Null, |(k, r)| Field::Key(format!("{k}-{r}"))),
                ),
            ];
            match self.kind {
                BriefKind::WeeklyHotspot => {
                    f.push(("presence_last_week", Field::Value(a.presence)));
                    f.push(("score", Field::Value(a.score)));
                }
                BriefKind::ThreatMatrix => {}
                BriefKind::EarlyWarning => {
                    f.push(("previous_pattern", Field::class(a.previous.clone())));
                    f.push((
                        "sightings_near",
                        a.sightings.map_or(Field::Null, |n| Field::Count {
                            layer: Layer::Sightings,
                            n,
                        }),
                    ));
                    f.push(("status", Field::class(a.status.map(Status::as_str))));
                    f.push(("likelihood", Field::Tally(u64::from(a.likelihood))));
                    f.push(("impact", Field::Tally(u64::from(a.impact))));
                    f.push(("priority", Field::class(a.priority.map(Priority::as_str))));
                }
                BriefKind::QuarterlyOutlook => {
                    f.extend(self.outlook.iter().flat_map(|o| o.area_fields(a)))
                }
                BriefKind::Handover => {}
            }
            p.items.push(Item {
                id: Field::Key(format!("{}-{}", self.kind.as_str(), a.rank)),
                geometry: Shape::Cell(a.ring.clone()),
                properties: f,
            });
        }
        p
    }

    /// The ranking rule, in one sentence (also in docs/briefs.md).
    pub fn rule(&self) -> &'static str {
        match self.kind {
            BriefKind::WeeklyHotspot => {
                "score = tier x (1 - presence in the last 7 days), tier 3 intensifying, \
                 2 new, 1 persistent; higher score first, then more incidents, then cell key"
            }
            BriefKind::EarlyWarning => {
                "likelihood 1-3 = 3 intensifying, 2 consecutive, 1 new, +1 with armed-group \
                 sightings near (max 3); impact 1-3 = 5x5 impact 1-2 -> 1, 3 -> 2, 4-5 -> 3, \
                 +1 in a blind spot (max 3); priority by likelihood x impact: 9 top, 6 high, \
                 3-4 medium, 1-2 low; higher priority first, then higher likelihood x impact, \
                 then more incidents, then cell key"
            }
            BriefKind::QuarterlyOutlook => {
                "intensifying, then new, then persistent hot spots; then more incidents, \
                 then cell key"
            }
            BriefKind::Handover => handover::RULE,
            BriefKind::ThreatMatrix => threat_matrix::RULE,
        }
    }
}

/// The weekly brief's tier of a pattern.
pub fn weekly_tier(pattern: &str) -> f64 {
    match pattern {
        "intensifying-hot" => 3.0,
        "new-hot" => 2.0,
        "persistent-hot" => 1.0,
        _ => 0.0,
    }
}

fn count_of(f: &Field) -> u64 {
    match f {
        Field::Count { n, .. } => *n,
        _ => 0,
    }
}

pub mod calendar;
mod cells;
pub mod handover;
pub mod outlook;
#[cfg(test)]
mod tests;
mod threat_matrix;
