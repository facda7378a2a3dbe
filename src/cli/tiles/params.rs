//! The tile commands' parameters besides the area: the tile endpoints'
//! filter (`--from`, `--category`, ...) and the analysis parameters of
//! the overlay and joint layers (`--cell-km`, `--surface`, ...), by the
//! analysis commands' names. Both become the query pairs the server's
//! `/tiles/{layer}` takes, parsed there by the server's own grammar, so a
//! package takes exactly the parameters the server does and its metadata
//! records them as the server's query string.

use crate::request::blindspots::BlindspotRequest;
use crate::request::coverage::CoverageRequest;
use crate::request::events::FilterArgs;
use crate::request::hotspots::HotspotRequest;
use crate::server::analysis::command;
use chrono::{DateTime, Utc};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// Query pairs, by the tile endpoints' names.
pub type Pairs = Vec<(String, String)>;

/// The tile endpoints' filter parameters (`/tiles/{layer}/{z}/{x}/{y}.png?from=...`),
/// by the same names and parsers; with --as-role they pass through the
/// gate as the server's do.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TileFilter {
    /// Only features from this time on (RFC 3339 or date), as the endpoints' `from`.
    #[arg(long, value_parser = crate::request::parse_time_arg)]
    pub from: Option<DateTime<Utc>>,
    /// Only features up to this time (RFC 3339, or a date: through the end of that day).
    #[arg(long, value_parser = crate::request::parse_to_arg)]
    pub to: Option<DateTime<Utc>>,
    /// Incidents and sightings only: these categories (sightings: activities), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub category: Vec<String>,
    /// Incidents and sightings only: these perpetrators (a category or an exact name), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub perpetrator: Vec<String>,
    /// Incidents and sightings only: at least this established (alert, reported, corroborated, verified).
    #[arg(long, value_name = "STATUS")]
    pub min_verification: Option<String>,
    /// Incidents and sightings only: at least this precisely located (exact, settlement, district, province).
    #[arg(long, value_name = "PRECISION")]
    pub min_precision: Option<String>,
}

impl TileFilter {
    /// The analyses' filter these parameters make (tiles count events and
    /// take their bounds as the box).
    pub fn args(&self) -> FilterArgs {
        FilterArgs {
            from: self.from,
            to: self.to,
            bbox: None,
            category: self.category.clone(),
            perpetrator: self.perpetrator.clone(),
            min_verification: self.min_verification.clone(),
            min_precision: self.min_precision.clone(),
            weight: "count".into(),
        }
    }

    /// The parameters as the tile endpoints' query pairs.
    pub fn pairs(&self) -> Pairs {
        let time = |t: &Option<DateTime<Utc>>| t.as_ref().map(crate::model::time::format_time);
        let list = |v: &[String]| (!v.is_empty()).then(|| v.join(","));
        [
            ("from", time(&self.from)),
            ("to", time(&self.to)),
            ("category", list(&self.category)),
            ("perpetrator", list(&self.perpetrator)),
            ("min-verification", self.min_verification.clone()),
            ("min-precision", self.min_precision.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect()
    }
}

/// `pairs` as a query string; `None` when there are none.
pub fn query(pairs: &[(String, String)]) -> Option<String> {
    (!pairs.is_empty()).then(|| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish()
    })
}

/// Analysis flags named otherwise here, since the tile commands use the
/// name themselves: (the endpoints' name, the flag's).
const RENAMED: [(&str, &str); 2] = [("layer", "event-layer"), ("bbox", "analysis-bbox")];

/// Analysis flags not offered here: the tile filter's own (the same
/// parameters), local-only ones the server refuses (`area`) and those the
/// layer sets itself.
const NOT_HERE: [&str; 9] = [
    "from",
    "to",
    "category",
    "perpetrator",
    "min-verification",
    "min-precision",
    "area",
    "cells",
    "all-cells",
];

/// The joint map's own parameter.
const SURFACE: &str = "surface";

const HEADING: &str = "Analysis parameters (hotspots, moran, presence, risk, blindspots, joint)";

/// One analysis flag: its clap definition, the endpoints' name, and
/// whether it is a switch.
struct Flag {
    arg: Arg,
    name: String,
    switch: bool,
}

/// Every analysis flag of the overlays' requests, once each, as a plain
/// string (the server's grammar parses the value, as it parses a query).
fn flags() -> Vec<Flag> {
    let mut out: Vec<Flag> = Vec::new();
    for cmd in [
        command::<HotspotRequest>(),
        command::<CoverageRequest>(),
        command::<BlindspotRequest>(),
    ] {
        for a in cmd.get_arguments() {
            let Some(long) = a.get_long() else { continue };
            if NOT_HERE.contains(&long) || out.iter().any(|f| f.name == long) {
                continue;
            }
            let switch = matches!(a.get_action(), ArgAction::SetTrue);
            let help = a.get_help().cloned().unwrap_or_default();
            let mut arg = match RENAMED.iter().find(|r| r.0 == long) {
                Some((name, flag)) => Arg::new(*flag).long(*flag).help(format!(
                    "{help} (the analysis's --{name}; `{name}` in the tile endpoints' query)"
                )),
                None => a.clone(),
            };
            arg = arg
                .short(None)
                .required(false)
                .default_value(None)
                .help_heading(HEADING);
            arg = if switch {
                arg.action(ArgAction::SetTrue)
            } else {
                arg.action(ArgAction::Set)
                    .num_args(1)
                    .value_delimiter(None)
                    .allow_hyphen_values(true)
                    .value_parser(clap::value_parser!(String))
            };
            out.push(Flag {
                arg,
                name: long.to_string(),
                switch,
            });
        }
    }
    out.push(Flag {
        arg: Arg::new(SURFACE)
            .long(SURFACE)
            .value_name("SURFACE")
            .help(
                "joint only: what is drawn under the store layers, hotspots (the default) or heat",
            )
            .help_heading(HEADING)
            .value_parser(clap::value_parser!(String)),
        name: SURFACE.into(),
        switch: false,
    });
    out
}

/// The analysis parameters of overlay and joint tiles, as the tile
/// endpoints' query pairs (only those given).
#[derive(Debug, Clone, Default)]
pub struct AnalysisParams {
    /// `(name, value)` by the endpoints' names, switches as `true`.
    pub pairs: Pairs,
}

impl AnalysisParams {
    /// The flag a query parameter is given by on the command line.
    pub fn flag(name: &str) -> String {
        let flag = RENAMED.iter().find(|r| r.0 == name).map_or(name, |r| r.1);
        format!("--{flag}")
    }
}

impl clap::Args for AnalysisParams {
    fn augment_args(mut cmd: Command) -> Command {
        for f in flags() {
            cmd = cmd.arg(f.arg);
        }
        cmd
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for AnalysisParams {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut pairs = Vec::new();
        for f in flags() {
            let id = f.arg.get_id().as_str();
            if m.value_source(id) != Some(ValueSource::CommandLine) {
                continue;
            }
            if f.switch {
                pairs.push((f.name, "true".to_string()));
            } else if let Some(v) = m.get_one::<String>(id) {
                pairs.push((f.name, v.clone()));
            }
        }
        Ok(AnalysisParams { pairs })
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, FromArgMatches};

    fn parse(args: &[&str]) -> Result<AnalysisParams, clap::Error> {
        let cmd = AnalysisParams::augment_args(Command::new("t").no_binary_name(true));
        let m = cmd.try_get_matches_from(args)?;
        AnalysisParams::from_arg_matches(&m)
    }

    #[test]
    fn analysis_flags_become_the_endpoints_pairs() {
        let p = parse(&[
            "--cell-km",
            "10",
            "--no-fdr",
            "--event-layer",
            "sightings",
            "--likelihood-breaks",
            "1,2,3,4",
            "--analysis-bbox",
            "-1,2,3,4",
            "--surface",
            "heat",
        ])
        .unwrap();
        let want = [
            ("layer", "sightings"),
            ("cell-km", "10"),
            ("no-fdr", "true"),
            ("likelihood-breaks", "1,2,3,4"),
            ("bbox", "-1,2,3,4"),
            ("surface", "heat"),
        ];
        let mut got = p.pairs.clone();
        got.sort();
        let mut want: Pairs = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        assert_eq!(got, want);
        // Nothing given, nothing recorded: defaults stay the server's.
        assert!(parse(&[]).unwrap().pairs.is_empty());
        // The tile filter's names and the layer's own are not offered twice.
        for taken in [
            "--from",
            "--area",
            "--cells",
            "--all-cells",
            "--layer",
            "--bbox",
        ] {
            assert!(parse(&[taken, "x"]).is_err(), "{taken}");
        }
        assert_eq!(AnalysisParams::flag("bbox"), "--analysis-bbox");
        assert_eq!(AnalysisParams::flag("cell-km"), "--cell-km");
    }

    #[test]
    fn filter_pairs_are_the_endpoints_query() {
        let f = TileFilter {
            to: crate::request::parse_to_arg("2025-03-09").ok(),
            category: vec!["killing".into(), "abduction".into()],
            ..TileFilter::default()
        };
        assert_eq!(
            query(&f.pairs()).as_deref(),
            Some("to=2025-03-09T23%3A59%3A59.999Z&category=killing%2Cabduction")
        );
        assert_eq!(query(&TileFilter::default().pairs()), None);
    }
}
