//! Running an analysis for a role: the one path from a request to what the
//! role receives, shared by the server, the CLI (`--as-role`) and every
//! later product (tiles, trends, briefs).
//!
//! 1. [`Gate::plan`]: the rules of every layer the analysis reads, made as
//!    strict as the strictest for the output; the request restricted to
//!    them ([`Analysis::restrict`]: coarser cells, whole time steps, no
//!    filter or weight on a field the role may not see, budgets).
//! 2. [`Gate::run`]: the analysis runs on the store as the role's rules admit
//!    it ([`Admitted`]); for a role without full view, on square cells
//!    anchored at the mission origin and on events released whole groups at a
//!    time ([`super::release`]); its typed product is disclosed under the
//!    rules ([`Disclosure`]).

use super::admitted::{analysis_rules, hour, Admitted, Shown};
use super::disclose::Disclosure;
use super::release::{release, Partition};
use super::{AggregateRules, Gate, LayerView, Policy, Principal};
use crate::analysis::product::{Field, Param, Product};
use crate::model::Layer;
use crate::request::{Outcome, Protect};
use crate::store::FeatureSource;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Limits on one request, whoever asks (the server's `[limits]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Smallest square cell, km.
    pub min_cell_km: f64,
    /// Finest H3 resolution.
    pub max_h3_resolution: u8,
    /// Most Local Moran permutations.
    pub max_permutations: usize,
    /// Most cells of an analysis grid (estimated before it is built).
    pub max_cells: usize,
    /// Most cells when every cell is written (`all-cells`).
    pub max_output_cells: usize,
}

impl Budget {
    /// No limit beyond the analyses' own (the command line).
    pub fn unlimited() -> Budget {
        Budget {
            min_cell_km: 0.0,
            max_h3_resolution: 15,
            max_permutations: usize::MAX,
            max_cells: crate::grid::MAX_CELLS,
            max_output_cells: crate::grid::MAX_CELLS,
        }
    }
}

/// What [`Analysis::restrict`] adapts a request to.
pub struct Context<'a> {
    /// The output rules.
    pub rules: &'a AggregateRules,
    /// The admission rules of each layer read.
    pub layers: &'a BTreeMap<Layer, AggregateRules>,
    /// The limits.
    pub budget: &'a Budget,
    /// The time delays count from (rounded down to the hour).
    pub now: DateTime<Utc>,
    /// The fixed partition events are released on.
    pub partition: &'a Partition,
    /// Whether the role may see field `name` of `layer` on individual features.
    pub field_visible: &'a dyn Fn(Layer, &str) -> bool,
}

/// An analysis the gate can run for a role.
pub trait Analysis: std::fmt::Debug + Send + Sync {
    /// Its name (the endpoint's and the command's).
    const NAME: &'static str;
    /// The main layer: the output is gated under its rules, made as strict
    /// as those of every other layer read.
    fn layer(&self) -> Layer;
    /// Every layer it reads; layers not listed give it nothing.
    fn reads(&self) -> Vec<Layer> {
        vec![self.layer()]
    }
    /// Adapts the request to the rules and limits, or refuses it (a
    /// parameter error naming the parameter).
    fn restrict(&mut self, cx: &Context<'_>) -> crate::Result<()>;
    /// Runs it; `protect` is set for roles without full view.
    fn run(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome>;
}

/// A request prepared for a role by [`Gate::plan`].
#[derive(Debug, Clone)]
pub struct Plan {
    /// The output rules.
    pub rules: AggregateRules,
    /// The admission rules of each layer read.
    pub layers: BTreeMap<Layer, AggregateRules>,
    /// The time delays count from.
    pub now: DateTime<Utc>,
    /// The partition events are released on.
    pub partition: Partition,
    principal: Principal,
}

impl Plan {
    /// What, besides the request itself, makes the answer: for cache keys.
    ///
    /// The hour is always part of it, not only the output's cutoff: the
    /// layers read may have delays of their own, and the answer states the
    /// hour it was computed for (`jointmap.gate.now_unix_s`), so a cached
    /// answer never outlives its hour.
    pub fn key(&self) -> String {
        format!(
            "{:?}\n{:?}\n{}\n{:?}",
            self.rules,
            self.layers,
            self.now.timestamp(),
            self.partition
        )
    }
}

/// The SHA-256 (lowercase hex) of `policy`'s every value.
pub(super) fn digest(policy: &Policy) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    let d = sha2::Sha256::digest(format!("{policy:?}").as_bytes());
    d.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Gate {
    /// The SHA-256 (lowercase hex) of the policy's every value: the same
    /// for the same policy whatever file it came from.
    pub fn policy_sha256(&self) -> &str {
        &self.policy_sha256
    }

    /// The fixed partition of the policy.
    pub fn partition(&self) -> Partition {
        Partition {
            anchor: self.policy().grid_anchor,
            cell_m: self.policy().min_cell_km * 1000.0,
            step_s: i64::from(self.policy().time_step_days) * 86_400,
        }
    }

    /// Whether `p` may see field `name` of `layer` on individual features:
    /// with a full view any field; with a redacted view any field it does
    /// not hide; otherwise none.
    pub fn field_visible(&self, p: &Principal, layer: Layer, name: &str) -> bool {
        match self.features(p, layer) {
            Ok(v) if v.view() == LayerView::Full => true,
            Ok(v) => !v.hidden(name),
            Err(_) => false,
        }
    }

    /// Prepares `req` for `p`: the rules it runs under, and the request
    /// restricted to them and to `budget`. `now` is rounded down to the
    /// hour (delays cut at whole hours, so answers stay cacheable).
    pub fn plan<A: Analysis>(
        &self,
        p: &Principal,
        req: &mut A,
        budget: &Budget,
        now: DateTime<Utc>,
    ) -> crate::Result<Plan> {
        let (rules, layers) = analysis_rules(self, p, req.layer(), &req.reads())?;
        let now = hour(now);
        let partition = self.partition();
        let visible = |layer: Layer, name: &str| self.field_visible(p, layer, name);
        req.restrict(&Context {
            rules: &rules,
            layers: &layers,
            budget,
            now,
            partition: &partition,
            field_visible: &visible,
        })?;
        Ok(Plan {
            rules,
            layers,
            now,
            partition,
            principal: p.clone(),
        })
    }

    /// Runs a planned request on `store` and discloses its product to the
    /// plan's role. The summary of the outcome is not gated: it is returned
    /// only when the role sees every layer read in full.
    pub fn run<A: Analysis>(
        &self,
        plan: &Plan,
        req: &A,
        store: &dyn FeatureSource,
    ) -> crate::Result<(Product, Option<String>)> {
        let full = plan.rules.full;
        let cutoff = plan.rules.cutoff(plan.now);
        let mut admitted = Admitted::new(store, &plan.layers, cutoff, plan.now);
        if !full {
            admitted = admitted.coarsened(plan.partition.clone());
        }
        let shown = Shown::new(self, &plan.principal, store);
        let release_fn = |layer: Layer,
                          events: crate::analysis::Events,
                          window: (Option<i64>, Option<i64>),
                          bbox: Option<[f64; 4]>| {
            let rules = plan.layers.get(&layer).unwrap_or(&plan.rules);
            if rules.full {
                // The role sees this layer's admitted records one by one:
                // nothing to protect by grouping them.
                return events;
            }
            let rules = AggregateRules {
                k: rules.k.max(plan.rules.k),
                k_sensitive: rules.k_sensitive.max(plan.rules.k_sensitive),
                ..rules.clone()
            };
            let window = plan.partition.snap_window(window.0, window.1);
            release(&events, &rules, &plan.partition, window, bbox)
        };
        // A window resolved from defaults is restricted as restrict() does
        // given ones: whole steps, then the delay cutoff.
        let window_fn = |from: i64, to: i64| {
            let (f, t) = plan.partition.snap_window(Some(from), Some(to));
            let t = t
                .unwrap_or(to)
                .min(cutoff.map_or(i64::MAX, |c| c.timestamp()));
            (f.unwrap_or(from).min(t), t)
        };
        let protect = Protect {
            window: &window_fn,
            anchor: plan.partition.anchor,
            cell_m: plan.partition.cell_m,
            // Half the diagonal of a protection cell, with a margin.
            margin_m: plan.partition.cell_m * 0.75,
            release: &release_fn,
        };
        let outcome = req.run(&admitted, (!full).then_some(&protect))?;
        let visible = |layer: Layer, name: &str| self.field_visible(&plan.principal, layer, name);
        let is_shown = |layer: Layer, id: &str| shown.has(layer, id);
        let mut product = Disclosure {
            rules: &plan.rules,
            layers: &plan.layers,
            field_visible: &visible,
            shown: &is_shown,
        }
        .apply(outcome.product);
        // How it was gated, so that it can be re-run through the same gate
        // (`jointmap rerun`): the role, the "now" delays count from, and
        // the policy's digest. The "now" is Unix seconds, not a date: it is
        // no time of the data (it is always newer than any delay).
        product.meta.push((
            "gate",
            Field::Param(Param::Object(vec![
                ("role", plan.principal.role.as_str().into()),
                ("now_unix_s", plan.now.timestamp().into()),
                ("policy_sha256", self.policy_sha256().into()),
            ])),
        ));
        Ok((product, full.then_some(outcome.summary)))
    }
}
