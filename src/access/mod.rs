//! Need-to-know access: the one gate every output passes through.
//!
//! Every endpoint that returns data (OGC API items, analysis layers, tiles)
//! asks a [`Gate`] what the caller may see, and nothing else in the crate
//! decides it. The gate is a pure library: it knows roles, layers and features,
//! never HTTP. `docs/security.md` explains the rules for the people they protect.
//!
//! # What a caller sees
//!
//! A [`Principal`] (a token name and a [`Role`]) sees each layer through a
//! [`LayerView`] taken from the [`Policy`] matrix:
//!
//! | role | incidents | sightings | patrols | bases | sites |
//! |---|---|---|---|---|---|
//! | hr | full | aggregates only | aggregates only | full | full |
//! | military | redacted | full | full | full | full |
//! | jmac | redacted | full | aggregates only | full | full |
//! | partner | redacted | redacted | aggregates only | redacted | redacted |
//!
//! On top of the matrix, hard rules that no configuration can lift
//! ([`Policy::validate`] refuses a configuration that tries, and [`Gate`]
//! enforces them again feature by feature):
//!
//! - **classification**: `public` reaches every role, `mission` every role but
//!   `partner`; `restricted` and `strictly-confidential` reach only the owning
//!   component (owner `hr`: the hr role; `military`: the military role;
//!   `mission`: hr, military and jmac);
//! - **consent** (layers whose schema has a `consent` field: incidents) caps who
//!   sees a record individually: `partners` everyone, `mission` hr, military
//!   and jmac, `hr-only` and `none` (and a missing or unknown value) hr only. A
//!   record with consent `none` is also left out of every aggregate computed for
//!   a role other than hr; an `hr-only` record may count, anonymously, in
//!   aggregates that suppress small counts;
//! - **identifying incident fields never leave hr**: `narrative` and
//!   `source_name` ([`HR_ONLY_FIELDS`]) and every extra (non-schema) property
//!   of an incident, where names and exact ages would live; non-hr roles may
//!   not have a `full` view of incidents;
//! - **extras**: properties outside the layer's schema reach only the roles of
//!   the feature's owning component, since they can hold anything;
//! - **patrols** reach roles other than military only as aggregates
//!   (coverage), coarsened and delayed.
//!
//! # Derived products
//!
//! Every analysis returns a typed [`Product`](crate::analysis::product::Product):
//! each value says what it is (a count of features of a layer, a sensitive
//! count, a value computed from data, a reference to an individual, an
//! event time, a cell or a hull ...). The one path from a request to what a
//! role receives is [`Gate::plan`] then [`Gate::run`] (`run.rs`), used by
//! the server, the CLI's `--as-role` and every later product:
//!
//! - each layer read is admitted under that layer's [`AggregateRules`]
//!   (consent, classification when full, the patrol delay);
//! - the request is restricted ([`Analysis::restrict`], `requests.rs`):
//!   coarse cells, whole time steps, no filter or weight on a field the role
//!   may not see, budgets;
//! - for a role without full view, events are released only in whole groups
//!   of a fixed partition (cell x time step) of at least k (`release.rs`),
//!   and square cells are anchored at the mission origin;
//! - the product is disclosed by type ([`Disclosure`], `disclose.rs`): small
//!   counts suppressed (how many, never which, in `jointmap.suppressed`),
//!   member lists, hidden individuals and hidden fields removed, hulls and
//!   positions coarsened, event times cut to the day.
//!
//! docs/security.md states the threat model and the guarantee.
//!
//! # Property filters
//!
//! [`FeatureView::hidden`] names the properties a view never shows, so a
//! server can refuse filters on them. Some properties (extras) are shown on
//! some features and not on others, so filters should be applied to what
//! [`FeatureView::show`] returns, never to the stored feature.
//!
//! # Writes
//!
//! [`Gate::may_write`] decides whether a token may create or replace a
//! record: its layer must be in the token's ingest list, the record's owner
//! and the stored record's owner must be the role's component, and the role
//! must see the stored record. Partners own nothing and write nothing. Every
//! ownership refusal gives the caller the same wording, so a refusal does not
//! say whether a hidden record was the cause (`write.rs`).
//!
//! # Audit
//!
//! [`Gate::audit`] appends one JSON line per request (time, token name, role,
//! endpoint, parameters, status, number of features returned) to a file opened
//! in append mode; the token's secret never reaches it.

mod admitted;
mod aggregate;
mod audit;
mod audit_table;
mod disclose;
mod policy;
mod release;
mod requests;
mod run;
mod tiles;
mod view;
mod write;

pub use admitted::{analysis_rules, hour, visible_extent, Admitted, Shown};
pub use aggregate::AggregateRules;
pub use audit::AuditRecord;
pub use audit_table::AuditDone;
pub use disclose::Disclosure;
pub use policy::{PerLayer, PerRole, Policy};
pub use release::{release, Partition};
pub use run::{Analysis, Budget, Context, Plan};
pub use tiles::{TileCell, TileContent, TileFeature, TileKind, TileRequest, TileStream};
pub use view::{is_sensitive, FeatureView, Marking, HR_ONLY_FIELDS};
pub use write::{writable_owners, WriteCause};

use crate::model::Layer;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;

/// A caller's role: which component they work for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Human rights component.
    Hr,
    /// Military component (force HQ, sectors, JOC).
    Military,
    /// Joint Mission Analysis Centre.
    Jmac,
    /// UN agencies and humanitarian partners.
    Partner,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Hr, Role::Military, Role::Jmac, Role::Partner];

    /// The role's name, as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Hr => "hr",
            Role::Military => "military",
            Role::Jmac => "jmac",
            Role::Partner => "partner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AccessError;
    fn from_str(s: &str) -> Result<Self, AccessError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                AccessError::Config(format!(
                    "unknown role {s:?}; expected one of hr, military, jmac, partner"
                ))
            })
    }
}

/// Who is asking: the token's name (never its secret), its role and the layers
/// it may ingest into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name from the configuration.
    pub name: String,
    /// The token's role.
    pub role: Role,
    /// Layers this token may ingest into.
    pub ingest: Vec<Layer>,
}

/// How a role sees a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerView {
    /// Individual features with every property the hard rules allow.
    Full,
    /// Individual features without the role's hidden properties
    /// ([`Policy::hidden`]); aggregates suppress small counts.
    Redacted,
    /// No individual feature; aggregates only, with small counts suppressed,
    /// cells coarsened and (patrols) recent data delayed.
    AggregatesOnly,
    /// Nothing at all.
    None,
}

impl LayerView {
    /// Openness, from 0 (`none`) to 3 (`full`).
    pub fn rank(self) -> u8 {
        match self {
            LayerView::None => 0,
            LayerView::AggregatesOnly => 1,
            LayerView::Redacted => 2,
            LayerView::Full => 3,
        }
    }

    /// The value as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerView::Full => "full",
            LayerView::Redacted => "redacted",
            LayerView::AggregatesOnly => "aggregates-only",
            LayerView::None => "none",
        }
    }

    /// The more closed of two views.
    fn min(self, other: LayerView) -> LayerView {
        if other.rank() < self.rank() {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for LayerView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors of the access module.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The caller may not do this. The reason names the role and the layer,
    /// never anything about the data.
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why, for the caller.
        reason: String,
    },
    /// The audit log could not be opened or written.
    #[error("audit log: {0}")]
    Audit(String),
    /// The access configuration is invalid.
    #[error("access configuration: {0}")]
    Config(String),
    /// The ownership rules refuse a write ([`Gate::may_write`]). `reason`,
    /// for the caller, is the same whatever the cause; `cause` is for the
    /// operator's log only, never for the caller.
    #[error("forbidden: {reason}")]
    WriteRefused {
        /// Why, for the caller: depends on the token only.
        reason: String,
        /// The actual cause, for the log.
        cause: WriteCause,
    },
}

impl AccessError {
    fn forbidden(reason: impl Into<String>) -> Self {
        AccessError::Forbidden {
            reason: reason.into(),
        }
    }
}

/// The need-to-know gate: the policy and the audit log. `Send + Sync`; share
/// one behind an `Arc`.
#[derive(Debug)]
pub struct Gate {
    policy: Policy,
    /// [`Gate::policy_sha256`], computed once: cache keys carry it on every
    /// request.
    policy_sha256: String,
    audit: Option<AuditTo>,
}

/// Where the gate's audit records go.
#[derive(Debug)]
enum AuditTo {
    /// A file, appended to under the lock.
    File(Mutex<std::fs::File>),
    /// The store's audit table, through a writer thread.
    Table(audit_table::AuditQueue),
}

impl Gate {
    /// A gate enforcing `policy` (validated first), appending audit records to
    /// `audit_log` when given (created if missing, never truncated).
    pub fn new(policy: Policy, audit_log: Option<&Path>) -> Result<Gate, AccessError> {
        policy.validate()?;
        let audit = match audit_log {
            Some(path) => Some(AuditTo::File(Mutex::new(audit::open(path)?))),
            None => None,
        };
        let policy_sha256 = run::digest(&policy);
        Ok(Gate {
            policy,
            policy_sha256,
            audit,
        })
    }

    /// A gate enforcing `policy`, appending audit records to `table` (the
    /// store's audit table, [`crate::store::open_audit`]) on a writer thread
    /// of its own.
    pub fn with_audit_table(
        policy: Policy,
        table: Box<dyn crate::store::AuditTable>,
    ) -> Result<Gate, AccessError> {
        let mut gate = Gate::new(policy, None)?;
        gate.audit = Some(AuditTo::Table(audit_table::AuditQueue::start(table)?));
        Ok(gate)
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// How `p` sees `layer`: the policy's matrix, capped by the hard rules.
    pub fn view(&self, p: &Principal, layer: Layer) -> LayerView {
        let configured = *self.policy.views.get(p.role).get(layer);
        configured.min(policy::ceiling(p.role, layer))
    }

    /// Individual features of `layer` as `p` may see them. `Err(Forbidden)`
    /// when the role may see no individual feature of that layer
    /// (`AggregatesOnly` or `None`).
    pub fn features(&self, p: &Principal, layer: Layer) -> Result<FeatureView<'_>, AccessError> {
        match self.view(p, layer) {
            v @ (LayerView::Full | LayerView::Redacted) => {
                Ok(FeatureView::new(&self.policy, p.role, layer, v))
            }
            LayerView::AggregatesOnly => Err(AccessError::forbidden(format!(
                "role {} may see {layer} only as aggregates",
                p.role
            ))),
            LayerView::None => Err(AccessError::forbidden(format!(
                "role {} may not see {layer}",
                p.role
            ))),
        }
    }

    /// Constraints an analysis over `layer` run for `p` must respect.
    /// `Err(Forbidden)` when even aggregates are denied.
    pub fn aggregate_rules(
        &self,
        p: &Principal,
        layer: Layer,
    ) -> Result<AggregateRules, AccessError> {
        let view = self.view(p, layer);
        if view == LayerView::None {
            return Err(AccessError::forbidden(format!(
                "role {} may not see {layer}",
                p.role
            )));
        }
        Ok(AggregateRules::new(&self.policy, p.role, layer, view))
    }

    /// Whether `p` may ingest into `layer`: only layers its token lists.
    pub fn may_ingest(&self, p: &Principal, layer: Layer) -> Result<(), AccessError> {
        if p.ingest.contains(&layer) {
            Ok(())
        } else {
            Err(AccessError::forbidden(format!(
                "token {:?} may not ingest into {layer}",
                p.name
            )))
        }
    }

    /// Appends one record to the audit log as one JSON line, flushed. Lines
    /// from concurrent callers never interleave. Without an audit log, does
    /// nothing. With an audit table, waits until the record is in the table.
    pub fn audit(&self, rec: &AuditRecord) -> Result<(), AccessError> {
        if let Some(done) = self.audit_now(rec) {
            return done;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.audit_then(
            rec,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .unwrap_or_else(|_| Err(AccessError::Audit("the audit writer stopped".into())))
    }

    /// The outcome of appending one record at once, when the log is a file
    /// (or there is none); `None` for an audit table, whose writer thread
    /// answers through [`Gate::audit_then`]. Every request is audited: the
    /// file's path costs no channel or allocation beyond the line.
    pub fn audit_now(&self, rec: &AuditRecord) -> Option<Result<(), AccessError>> {
        match &self.audit {
            Some(AuditTo::File(file)) => Some(audit::write(file, rec)),
            Some(AuditTo::Table(_)) => None,
            None => Some(Ok(())),
        }
    }

    /// Appends one record as [`Gate::audit`] does, and calls `done` with the
    /// outcome: at once for a file (or no log), from the writer thread for an
    /// audit table, so an async caller can wait without blocking its thread.
    pub fn audit_then(&self, rec: &AuditRecord, done: AuditDone) {
        match &self.audit {
            Some(AuditTo::File(file)) => done(audit::write(file, rec)),
            Some(AuditTo::Table(queue)) => queue.send(rec, done),
            None => done(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> Principal {
        Principal {
            name: format!("{role}-token"),
            role,
            ingest: vec![Layer::Incidents],
        }
    }

    /// A cached answer states the hour it was computed for, so the hour is
    /// in its key even for a role whose output has no delay (a cached
    /// military answer once outlived its hour and disagreed with the
    /// command line's).
    #[test]
    fn plan_keys_change_with_the_hour_for_every_role() {
        use chrono::TimeZone;
        #[derive(clap::Parser)]
        struct Args {
            #[command(flatten)]
            req: crate::request::hotspots::HotspotRequest,
        }
        let gate = Gate::new(Policy::default(), Option::None).unwrap();
        let at = |h: u32, m: u32| chrono::Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).unwrap();
        for role in Role::ALL {
            let key = |t| {
                let mut req = <Args as clap::Parser>::parse_from(["x"]).req;
                gate.plan(&principal(role), &mut req, &Budget::unlimited(), t)
                    .unwrap()
                    .key()
            };
            assert_eq!(key(at(10, 5)), key(at(10, 55)), "{role}: same hour");
            assert_ne!(key(at(10, 55)), key(at(11, 5)), "{role}: next hour");
        }
    }

    #[test]
    fn gate_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Gate>();
        check::<AggregateRules>();
    }

    #[test]
    fn roles_parse_print_and_serialise() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(r.to_string(), r.as_str());
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), r);
        }
        assert_eq!(" HR ".parse::<Role>().unwrap(), Role::Hr);
        assert!(matches!(
            "admin".parse::<Role>(),
            Err(AccessError::Config(m)) if m.contains("admin")
        ));
    }

    #[test]
    fn layer_views_serialise_kebab_case() {
        let v: LayerView = serde_json::from_str("\"aggregates-only\"").unwrap();
        assert_eq!(v, LayerView::AggregatesOnly);
        assert_eq!(v.to_string(), "aggregates-only");
        assert!(LayerView::Full.rank() > LayerView::Redacted.rank());
        assert!(LayerView::Redacted.rank() > LayerView::AggregatesOnly.rank());
        assert!(LayerView::AggregatesOnly.rank() > LayerView::None.rank());
    }

    /// Every cell of the default matrix.
    #[test]
    fn default_matrix_every_cell() {
        use LayerView::{AggregatesOnly, Full, Redacted};
        let gate = Gate::new(Policy::default(), Option::None).unwrap();
        let want: [(Role, [LayerView; 5]); 4] = [
            (Role::Hr, [Full, AggregatesOnly, AggregatesOnly, Full, Full]),
            (Role::Military, [Redacted, Full, Full, Full, Full]),
            (Role::Jmac, [Redacted, Full, AggregatesOnly, Full, Full]),
            (
                Role::Partner,
                [Redacted, Redacted, AggregatesOnly, Redacted, Redacted],
            ),
        ];
        for (role, views) in want {
            let p = principal(role);
            for (layer, want) in Layer::ALL.into_iter().zip(views) {
                assert_eq!(gate.view(&p, layer), want, "{role} on {layer}");
                let individual = gate.features(&p, layer);
                assert_eq!(
                    individual.is_ok(),
                    matches!(want, Full | Redacted),
                    "{role} on {layer}"
                );
                if let Err(e) = individual {
                    let AccessError::Forbidden { reason } = e else {
                        panic!("{role} on {layer}: not Forbidden")
                    };
                    assert!(reason.contains(role.as_str()) && reason.contains(layer.name()));
                }
                let rules = gate.aggregate_rules(&p, layer).unwrap();
                let owns = matches!(
                    (role, layer),
                    (Role::Hr, Layer::Incidents)
                        | (
                            Role::Military,
                            Layer::Sightings | Layer::Patrols | Layer::Bases
                        )
                        | (Role::Hr | Role::Military | Role::Jmac, Layer::Sites)
                );
                assert_eq!(rules.full, want == Full && owns, "{role} on {layer}");
                assert_eq!(rules.list_members, rules.full);
                assert_eq!(rules.k, 5);
                assert_eq!(rules.k_sensitive, 10);
                assert_eq!(
                    rules.min_cell_m,
                    if rules.full { 0.0 } else { 10_000.0 },
                    "{role} on {layer}"
                );
                let delayed = layer == Layer::Patrols && role != Role::Military;
                assert_eq!(
                    rules.delay_hours,
                    if delayed { 72.0 } else { 0.0 },
                    "{role} on {layer}"
                );
            }
        }
    }

    #[test]
    fn none_view_denies_aggregates_too() {
        let mut policy = Policy::default();
        policy.views.partner.sightings = LayerView::None;
        let gate = Gate::new(policy, None).unwrap();
        let p = principal(Role::Partner);
        assert!(matches!(
            gate.aggregate_rules(&p, Layer::Sightings),
            Err(AccessError::Forbidden { .. })
        ));
        assert!(matches!(
            gate.features(&p, Layer::Sightings),
            Err(AccessError::Forbidden { .. })
        ));
        assert!(gate.aggregate_rules(&p, Layer::Incidents).is_ok());
    }

    #[test]
    fn ingest_only_into_listed_layers() {
        let gate = Gate::new(Policy::default(), None).unwrap();
        let p = principal(Role::Military);
        assert!(gate.may_ingest(&p, Layer::Incidents).is_ok());
        let e = gate.may_ingest(&p, Layer::Patrols).unwrap_err();
        assert!(e.to_string().contains("patrols"), "{e}");
        let nothing = Principal {
            ingest: vec![],
            ..principal(Role::Hr)
        };
        for layer in Layer::ALL {
            assert!(gate.may_ingest(&nothing, layer).is_err());
        }
    }

    /// A small seeded generator (SplitMix64), so the property tests are
    /// reproducible everywhere.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }
    }

    fn random_feature(rng: &mut Rng) -> (Layer, crate::model::Feature) {
        use crate::model::{Feature, Level, Owner, TimeSpan};
        use serde_json::{json, Map, Value};
        let layer = *rng.pick(&Layer::ALL);
        let mut props = Map::new();
        for spec in layer.fields() {
            if rng.chance(70) {
                let v = match spec.kind {
                    crate::model::FieldKind::Enum(values) => json!(rng.pick(values)),
                    crate::model::FieldKind::Count => json!(rng.below(4)),
                    crate::model::FieldKind::IntRange(lo, _) => json!(lo),
                    crate::model::FieldKind::PositiveReal | crate::model::FieldKind::Fraction => {
                        json!(0.5)
                    }
                    _ => json!(format!("text {}", rng.below(1000))),
                };
                props.insert(spec.name.into(), v);
            }
        }
        if layer == Layer::Incidents && rng.chance(20) {
            props.insert(
                "consent".into(),
                json!(rng.pick(&["bogus", "", "PARTNERS"])),
            );
        }
        // Extras, some named like the identifying fields of other layers.
        let extras = [
            "victim_name",
            "victim_age",
            "village_code",
            "narrative",
            "source_name",
            "phone",
            "killed_total",
            "members",
        ];
        for name in extras {
            if !props.contains_key(name) && rng.chance(30) {
                props.insert(name.into(), Value::String(format!("secret {name}")));
            }
        }
        let owner = *rng.pick(&[Owner::Hr, Owner::Military, Owner::Mission]);
        let level = *rng.pick(&[
            Level::Public,
            Level::Mission,
            Level::Restricted,
            Level::StrictlyConfidential,
        ]);
        let start =
            chrono::DateTime::from_timestamp(1_700_000_000 + rng.below(1 << 24) as i64, 0).unwrap();
        let f = Feature {
            id: format!("f{}", rng.next()),
            geometry: geo_types::Geometry::Point(geo_types::Point::new(18.5, 4.4)),
            time: TimeSpan { start, end: None },
            owner,
            level,
            properties: props,
        };
        (layer, f)
    }

    /// The rules of docs/security.md, written out again independently of the
    /// implementation: may `role` see feature `f` of `layer` at all?
    fn oracle_visible(role: Role, layer: Layer, f: &crate::model::Feature) -> bool {
        use crate::model::{Level, Owner};
        let owner_side = match f.owner {
            Owner::Hr => role == Role::Hr,
            Owner::Military => role == Role::Military,
            Owner::Mission => role != Role::Partner,
        };
        let by_level = match f.level {
            Level::Public => true,
            Level::Mission => role != Role::Partner,
            _ => owner_side,
        };
        let by_consent = layer != Layer::Incidents
            || role == Role::Hr
            || match f.str("consent") {
                Some("partners") => true,
                Some("mission") => role != Role::Partner,
                _ => false,
            };
        by_level && by_consent
    }

    /// ... and may it show property `name`?
    fn oracle_property(
        policy: &Policy,
        view: LayerView,
        role: Role,
        layer: Layer,
        f: &crate::model::Feature,
        name: &str,
    ) -> bool {
        use crate::model::Owner;
        let schema = ["time_start", "time_end", "owner", "classification"].contains(&name)
            || layer.fields().iter().any(|s| s.name == name);
        let totals = ["killed_total", "injured_total", "affected_total"].contains(&name);
        if role != Role::Hr && layer == Layer::Incidents {
            if name == "narrative" || name == "source_name" {
                return false;
            }
            if !schema && !totals {
                return false;
            }
        }
        if totals && layer == Layer::Incidents && view == LayerView::Redacted {
            return true;
        }
        let owner_side = match f.owner {
            Owner::Hr => role == Role::Hr,
            Owner::Military => role == Role::Military,
            Owner::Mission => role != Role::Partner,
        };
        if !schema && !owner_side {
            return false;
        }
        !(view == LayerView::Redacted
            && policy.hidden.get(role).get(layer).iter().any(|h| h == name))
    }

    /// The most open policy the validation accepts: every view at its
    /// ceiling, hidden lists down to the hard minimum.
    fn most_open_policy() -> Policy {
        let mut p = Policy::default();
        for role in Role::ALL {
            for layer in Layer::ALL {
                *p.views.get_mut(role).get_mut(layer) = policy::ceiling(role, layer);
                let hidden = p.hidden.get_mut(role).get_mut(layer);
                hidden.clear();
                if role != Role::Hr && layer == Layer::Incidents {
                    hidden.extend(HR_ONLY_FIELDS.iter().map(|s| s.to_string()));
                }
            }
        }
        p
    }

    /// Over random features (layer, classification, owner, consent,
    /// properties and extras) and every role, under the default and the most
    /// open valid policy: `show` returns a feature only when the rules allow
    /// it, never a property they forbid, every value unchanged, and never a
    /// property `hidden` names.
    #[test]
    fn property_show_never_returns_a_forbidden_property() {
        let mut rng = Rng(0x6a6f_696e_746d_6170);
        let features: Vec<_> = (0..4000).map(|_| random_feature(&mut rng)).collect();
        for policy in [Policy::default(), most_open_policy()] {
            let gate = Gate::new(policy.clone(), None).unwrap();
            for role in Role::ALL {
                let p = principal(role);
                let mut shown_count = 0;
                for (layer, f) in &features {
                    let Ok(view) = gate.features(&p, *layer) else {
                        assert!(!matches!(
                            gate.view(&p, *layer),
                            LayerView::Full | LayerView::Redacted
                        ));
                        continue;
                    };
                    let shown = view.show(f);
                    assert_eq!(
                        shown.is_some(),
                        oracle_visible(role, *layer, f),
                        "{role} {layer} {:?} {:?} {:?}",
                        f.owner,
                        f.level,
                        f.str("consent")
                    );
                    let Some(shown) = shown else { continue };
                    shown_count += 1;
                    assert_eq!(shown["id"], f.id.as_str());
                    let full = f.to_geojson();
                    for (name, value) in shown["properties"].as_object().unwrap() {
                        assert!(
                            oracle_property(&policy, view.view(), role, *layer, f, name),
                            "{role} on {layer} shown {name} ({:?} owner)",
                            f.owner
                        );
                        assert!(!view.hidden(name), "{role} {layer}: hidden {name} shown");
                        if !name.ends_with("_total") || *layer != Layer::Incidents {
                            assert_eq!(&full["properties"][name], value, "{name} changed");
                        }
                        if role != Role::Hr {
                            assert!(
                                !value.as_str().is_some_and(|s| s.starts_with("secret"))
                                    || *layer != Layer::Incidents,
                                "{role}: incident extra {name} leaked"
                            );
                        }
                    }
                }
                if role != Role::Partner || policy == most_open_policy() {
                    assert!(shown_count > 50, "{role}: only {shown_count} shown");
                } else {
                    assert!(shown_count > 0, "{role}: nothing shown");
                }
            }
        }
    }

    /// Over random typed products and every role: whatever a role without
    /// full access gets back respects k and k_sensitive under the rules of
    /// each counted layer, and lists no member; items without a count go.
    #[test]
    fn property_disclosure_respects_k() {
        use crate::analysis::product::{Field, Item, Product, Shape};
        let gate = Gate::new(Policy::default(), None).unwrap();
        let mut rng = Rng(42);
        for round in 0..200 {
            let n = rng.below(40);
            let mut product = Product::new("test");
            for i in 0..n {
                let count = rng.below(15) as u64;
                let layer = *rng.pick(&Layer::ALL);
                let mut props = vec![("cell", Field::Key(format!("c{i}")))];
                if rng.chance(90) {
                    props.push(("count", Field::Count { layer, n: count }));
                }
                if rng.chance(80) {
                    props.push((
                        "count_sensitive",
                        Field::Sensitive(rng.below(count as usize + 1) as u64),
                    ));
                }
                props.push((
                    "members",
                    Field::Members {
                        layer,
                        ids: vec!["a".into(), "b".into()],
                    },
                ));
                product.items.push(Item {
                    id: Field::Key(format!("c{i}")),
                    geometry: Shape::None,
                    properties: props,
                });
            }
            for role in Role::ALL {
                let p = principal(role);
                for main in Layer::ALL {
                    let Ok((rules, layers)) = analysis_rules(&gate, &p, main, &Layer::ALL) else {
                        continue;
                    };
                    let out = Disclosure {
                        rules: &rules,
                        layers: &layers,
                        field_visible: &|_, _| true,
                        shown: &|_, _| true,
                    }
                    .apply(product.clone());
                    let suppressed = match out.meta("suppressed") {
                        Some(Field::Param(crate::analysis::product::Param::Int(s))) => *s as usize,
                        other => panic!("{other:?}"),
                    };
                    assert_eq!(out.items.len() + suppressed, n, "round {round}");
                    if rules.full {
                        assert_eq!(out.items.len(), n);
                        continue;
                    }
                    for item in &out.items {
                        let mut counted = false;
                        let s = item.properties.iter().find_map(|(_, f)| match f {
                            Field::Sensitive(s) => Some(*s),
                            _ => None,
                        });
                        for (_, f) in &item.properties {
                            assert!(!matches!(f, Field::Members { .. }), "{role}: members");
                            if let Field::Count { layer, n: c } = f {
                                counted = true;
                                let s = match layer {
                                    Layer::Incidents => s.unwrap_or(*c),
                                    _ => 0,
                                };
                                assert!(*c == 0 || *c >= 5, "{role} {layer}: count {c}");
                                assert!(s == 0 || *c >= 10, "{role} {layer}: {c} with {s}");
                            }
                        }
                        assert!(counted, "{role}: an item without a count was kept");
                    }
                }
            }
        }
    }
}
